"""What createImage makes: the answer, the image's life (pending → ready) and its data disks."""

from __future__ import annotations

import pytest

from imagecert.checks import check
from imagecert.suitekit.jdcloud_vm import (
    IMAGE_STATES,
    cloud_disk,
    create,
    data_disks,
    disk_types,
    image_name,
    made,
    new_disk,
    read_image,
    size_range,
    wait_until_ended,
)


@pytest.mark.test_id("0da0622e-1ead-418a-a846-cccea96a4337")
@pytest.mark.constraint("JD-R001", "JD-P001", "JD-P027", "JD-P028", "JD-P029")
def test_the_answer_names_the_image_made(world):
    instance = world.make("instance", role="instance.running", status="running")
    response = create(world, instance)
    image_id = made(world, response, "JD-P027")
    check(world.api, "JD-P028", bool(response.json().get("requestId")), "the 200 body has no requestId")
    image = read_image(world, image_id, "JD-P029")
    check(world.api, "JD-P029", image.get("imageId") == image_id, f"describeImage shows {image.get('imageId')!r}")


@pytest.mark.test_id("0f838374-7048-44f0-b321-0d2384d1e2c5")
@pytest.mark.constraint("JD-B001")
def test_the_image_is_pending_until_it_is_ready(world):
    instance = world.make("instance", role="instance.running", status="running")
    image_id = made(world, create(world, instance), "JD-B001")
    first = read_image(world, image_id, "JD-B001")["status"]
    check(world.api, "JD-B001", first in IMAGE_STATES["in-progress"] + [IMAGE_STATES["done"]],
          f"a new image is {first!r}, neither in progress {IMAGE_STATES['in-progress']} nor {IMAGE_STATES['done']!r}")
    final = wait_until_ended(world, image_id, "JD-B001")["status"]
    check(world.api, "JD-B001", final == IMAGE_STATES["done"], f"the image ended {final!r}, not {IMAGE_STATES['done']!r}")


@pytest.mark.test_id("01325ab0-c18a-400b-ad5b-12e50b3ca9df")
@pytest.mark.constraint("JD-C005")
def test_by_default_cloud_data_disks_are_in_the_image_and_local_ones_are_not(world):
    instance = world.make("instance", status="running",
                          data_disks=[cloud_disk("vdb", 40), cloud_disk("vdc", 40, category="local")])
    shown = data_disks(read_image(world, made(world, create(world, instance), "JD-C005"), "JD-C005"))
    check(world.api, "JD-C005", "vdb" in shown, f"the cloud data disk vdb is not in the image ({sorted(shown)})")
    check(world.api, "JD-C005", "vdc" not in shown, f"the local data disk vdc is in the image ({sorted(shown)})")


@pytest.mark.test_id("b65e71c2-3e98-4140-aca7-cc1ccfa8aeab")
@pytest.mark.constraint("JD-C007", "JD-C006")
def test_no_device_leaves_a_cloud_data_disk_out(world):
    instance = world.make("instance", status="running", data_disks=[cloud_disk("vdb", 40), cloud_disk("vdc", 40)])
    body = {"name": image_name("nodev"), "dataDisks": [{"deviceName": "vdb", "noDevice": True}]}
    shown = data_disks(read_image(world, made(world, create(world, instance, body), "JD-C007"), "JD-C007"))
    check(world.api, "JD-C007", "vdb" not in shown, f"the excluded disk vdb is in the image ({sorted(shown)})")
    check(world.api, "JD-C007", "vdc" in shown, f"the other cloud disk vdc is missing ({sorted(shown)})")


@pytest.mark.test_id("aa275555-09ed-40e1-b838-52489c62c15a")
@pytest.mark.constraint("JD-C009", "JD-C006")
def test_a_device_the_instance_has_is_replaced_by_the_new_spec(world):
    disk_type = disk_types()[0]
    low, high, step = size_range(disk_type)
    instance = world.make("instance", status="running", data_disks=[cloud_disk("vdb", low)])
    body = {"name": image_name("swap"), "dataDisks": [new_disk("vdb", disk_type, low + 2 * step)]}
    shown = data_disks(read_image(world, made(world, create(world, instance, body), "JD-C009"), "JD-C009"))
    size = ((shown.get("vdb") or {}).get("cloudDisk") or {}).get("diskSizeGB")
    check(world.api, "JD-C009", size == low + 2 * step, f"vdb is {size} GiB in the image, asked {low + 2 * step}")
