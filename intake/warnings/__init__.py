"""Warnings (预警): the sites' payroll records (real-name roster, attendance, wage account statement) imported by
file or API (`payroll`), the indicators computed from them and from what the registers already know
(`indicators`), and the warnings' lifecycle: raised, cleared by themselves or by staff, escalated when a key
warning's rectification deadline passes, turned into a case (`ledger`), and a complaint's claim line pre-filled
from the roster of the site complained about (`claims`); poster scans counted per site and day, and inspectors'
poster check-ins (`posters`).

May import foundation, reading, registry, people, delivery, case, conversation and supervision.
"""
