"""Supervision: per-case facts, daily tallies, figures, the ledger, reports, spreadsheets and the employer register.
May import every package below it (foundation ... conversation).
"""
