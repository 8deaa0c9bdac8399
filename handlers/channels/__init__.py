"""Chat channels (WeChat, SMS gateways): each adapter verifies and parses its provider's webhook into an
`intake.conversation.inbound.Inbound`; `receive.take` hands it to the core and commits once.

Anything sent later goes through the outbox, by the senders `wiring.build_senders` makes for the worker; photos
that a provider holds are downloaded by the worker too, with the fetchers `wiring.build_fetchers` makes.
"""
