"""Apsara Stack ECS (apsara-ecs): CreateImage on the /apsara/route gateway, with DescribeImages and DeleteImage."""
