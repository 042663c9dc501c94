"""A sandbox payment provider: an Alipay-style RSA2-signed page pay, notifications and API.

Run it with ``kuaidan sandbox-pay``; see docs/payments-sandbox.md for the protocol.
"""
