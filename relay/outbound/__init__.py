"""Agents' replies out to the channels: the durable send queue and the Graph API client."""
