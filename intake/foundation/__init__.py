"""The shared foundation: settings, database engines, models, the working calendar, validation, encryption,
the state machine with its timeline record, and the Chinese texts of statuses. Imports nothing of ours.
"""
