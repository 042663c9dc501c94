"""Interception after shipping, a sub-area of ordering: the parcel redirected to a new address
or stopped and returned, with the carrier's fee. It reaches the order through the ordering
core's service."""
