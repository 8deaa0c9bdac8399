"""The core assembled: sessions with every hook, the background worker's loop and its table of timer handlers.
May import any package of intake; nothing in intake imports it.
"""
