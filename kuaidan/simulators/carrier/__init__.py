"""A carrier simulator: a tracking aggregator in the style of Kuaidi100 that books parcels,
moves them through scan events over accelerated time, and pushes signed tracking callbacks.

Run it with ``kuaidan sandbox-carrier``; see docs/logistics.md for the protocol.
"""
