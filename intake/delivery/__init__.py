"""Delivery: the outbox and its send loop, SMS templates for the mainland gateways, and media fetches.
May import foundation, reading, registry and people.
"""
