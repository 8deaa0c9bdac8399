"""People and access: staff accounts, the one scope check, the audit log, API client systems and what they are
sent (published events). May import foundation, reading and registry.
"""
