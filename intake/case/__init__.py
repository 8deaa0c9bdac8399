"""The case: creating a complaint, routing, every case action, clocks and timers, entry numbers, the queue and the
notices each step sends. May import every package above it in the README's list (foundation ... delivery).
"""
