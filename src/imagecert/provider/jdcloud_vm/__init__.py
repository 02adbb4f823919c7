"""JD Cloud VM (jdcloud-vm): createImage and the calls that observe it."""
