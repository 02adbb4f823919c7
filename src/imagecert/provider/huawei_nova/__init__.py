"""Huawei ECS's Nova-native createImage (dialect huawei-nova) for the reference provider."""
