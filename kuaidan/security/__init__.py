"""Security: edge protections in front of every request, intrusion detection, audit log."""
