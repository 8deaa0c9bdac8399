"""Privacy over time: re-encrypting stored numbers under a new key, and anonymising old closed cases.
May import every package below it (foundation ... supervision).
"""
