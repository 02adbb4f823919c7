"""imagecert: contract and conformance tests for the cloud APIs that make an image from a server."""

__version__ = "0.1.0"
