"""Ready official-SDK clients pointed at the fake, one per dialect. Each SDK is imported
only here, when asked for: imagecert does not depend on any of them."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from imagecert.provider.fake import MissingSDK

if TYPE_CHECKING:
    from imagecert.provider.fake import Account

PACKAGES = {  # dialect -> (module, what pip installs)
    "huawei-ims": ("huaweicloudsdkims", "huaweicloudsdkims"),
    "huawei-nova": ("novaclient", "python-novaclient"),
    "jdcloud-vm": ("jdcloud_sdk", "jdcloud-sdk"),
    "apsara-ecs": ("aliyunsdkcore", "aliyun-python-sdk-core"),
}


def _need(dialect: str) -> None:
    module, package = PACKAGES[dialect]
    try:
        import_module(module)
    except ImportError:
        raise MissingSDK(f"a {dialect} client needs the official SDK: pip install {package}") from None


def client(account: "Account", **options: Any) -> Any:
    _need(account.dialect)
    return BUILDERS[account.dialect](account, **options)


def _huawei_ims(account: "Account") -> Any:
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkims.v2 import ImsClient

    # the project id in the credentials: the SDK then does not ask IAM for it
    credentials = BasicCredentials(account.auth["access_key"], account.auth["secret_key"], account.project_id)
    return ImsClient.new_builder().with_credentials(credentials).with_endpoints([account.endpoint]).build()


def _huawei_nova(account: "Account", version: str = "2.1") -> Any:
    from keystoneauth1 import session, token_endpoint
    from novaclient import client as nova_client

    endpoint = f"{account.endpoint}/v2.1/{account.project_id}"
    auth = token_endpoint.Token(endpoint, account.auth["token"])
    return nova_client.Client(version, session=session.Session(auth=auth))


def _jdcloud_vm(account: "Account") -> Any:
    from jdcloud_sdk.core.config import Config
    from jdcloud_sdk.core.credential import Credential
    from jdcloud_sdk.core.logger import ERROR, Logger
    from jdcloud_sdk.services.vm.client.VmClient import VmClient

    credential = Credential(account.auth["access_key"], account.auth["secret_key"])
    return VmClient(credential, Config(account.endpoint.removeprefix("http://"), scheme="http"), Logger(ERROR))


def _apsara_ecs(account: "Account") -> Any:
    """An AcsClient on the fake's port; send CommonRequests with `apsara_request`."""
    from aliyunsdkcore.client import AcsClient

    port = int(account.endpoint.rsplit(":", 1)[1])
    return AcsClient(account.auth["access_key"], account.auth["secret_key"], account.region, port=port)


def apsara_request(account: "Account", action: str, **params: Any) -> Any:
    """aliyunsdkcore's CommonRequest for an Apsara Stack ECS action on the fake, the
    parameters in the body as Apsara Stack wants them."""
    _need("apsara-ecs")
    from aliyunsdkcore.request import CommonRequest

    host = account.endpoint.removeprefix("http://").rsplit(":", 1)[0]
    request = CommonRequest(domain=host, version="2016-01-01", uri_pattern=f"/apsara/route/Ecs/{action}",
                            product="Ecs")
    request.set_method("POST")
    request.set_protocol_type("http")
    for name, value in params.items():
        request.add_body_params(name, value)
    return request


BUILDERS = {"huawei-ims": _huawei_ims, "huawei-nova": _huawei_nova, "jdcloud-vm": _jdcloud_vm,
            "apsara-ecs": _apsara_ecs}
