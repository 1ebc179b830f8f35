"""Format translators: pure functions between document bytes and the canonical model (gateway.api).

Nothing here does I/O or imports the gateway; ``adapters.registry`` is the one way in.
"""
