"""The worker's conversation on a chat channel: the inbound pipeline, the dialogue, its draft and replies, and
transcripts. May import foundation, reading, registry, people, delivery and case.
"""
