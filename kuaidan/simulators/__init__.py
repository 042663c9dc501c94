"""Simulators of outside parties (payment provider, ...) that speak their real protocols.

They import only ``kuaidan.core`` (and the settings), never a business area: to kuaidan they
are as foreign as the real provider would be.
"""
