"""A local gateway that speaks the Alipay open-platform protocol with test keys.

Run it with ``kuaidan sandbox-alipay``; see docs/payments-and-risk.md for the protocol.
"""
