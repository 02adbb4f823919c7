"""Huawei IMS (full-ECS image) dialect of the reference provider."""
