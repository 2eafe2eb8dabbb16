"""Calls the tests' fake VOD API (examples/fake_vod.rs) with Tencent's own Python SDK.

Every call is signed by the SDK's TC3-HMAC-SHA256 code and parsed by its models, so the
fake is checked against an implementation that is not vodsign's: it must accept the SDK's
signatures, refuse a wrong key, and answer in shapes the SDK's models know field for field
(an unknown field is a warning in the SDK, an error here).

    python3 scripts/check_fake_vod.py 127.0.0.1:PORT

The SecretId/SecretKey and SubAppId come from FAKE_VOD_SECRET_ID, FAKE_VOD_SECRET_KEY and
FAKE_VOD_SUB_APP_ID, as given to the fake; the fake starts with FAKE_VOD_EVENTS events.
"""

import os
import sys
import warnings

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
    TencentCloudSDKException,
)
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

# The SDK warns "... fileds are useless" (sic) for a field its models do not have.
warnings.filterwarnings("error", message=".*fileds are useless")
# ...and marks some fields it still parses as deprecated (ProcedureTask.ErrCode).
warnings.filterwarnings("ignore", category=DeprecationWarning)

ENDPOINT = sys.argv[1]
SECRET_ID = os.environ["FAKE_VOD_SECRET_ID"]
SECRET_KEY = os.environ["FAKE_VOD_SECRET_KEY"]
SUB_APP_ID = int(os.environ["FAKE_VOD_SUB_APP_ID"])
EVENTS = int(os.environ["FAKE_VOD_EVENTS"])


def client(key):
    http = HttpProfile(protocol="http", endpoint=ENDPOINT, reqTimeout=15)
    profile = ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http)
    return vod_client.VodClient(credential.Credential(SECRET_ID, key), "ap-guangzhou", profile)


def request(model, **fields):
    req = model()
    req.SubAppId = SUB_APP_ID
    for name, value in fields.items():
        setattr(req, name, value)
    return req


def check(condition, what):
    if not condition:
        sys.exit(f"check-fake-vod: FAILED: {what}")
    print(f"ok: {what}")


vod = client(SECRET_KEY)

config = vod.DescribeEventConfig(request(models.DescribeEventConfigRequest))
check(
    (config.Mode, config.UploadMediaCompleteEventSwitch) == ("PUSH", "OFF") and config.RequestId,
    "DescribeEventConfig: PUSH mode, upload events off (VOD's defaults)",
)
vod.ModifyEventConfig(
    request(models.ModifyEventConfigRequest, Mode="PULL", UploadMediaCompleteEventSwitch="ON")
)
config = vod.DescribeEventConfig(request(models.DescribeEventConfigRequest))
check(
    (config.Mode, config.UploadMediaCompleteEventSwitch, config.DeleteMediaCompleteEventSwitch)
    == ("PULL", "ON", "OFF"),
    "ModifyEventConfig: PULL mode and upload events on, the rest untouched",
)

state = vod.DescribeEventsState(request(models.DescribeEventsStateRequest))
check(state.CountOfEventsToPull == EVENTS, f"DescribeEventsState: {EVENTS} events waiting")

pulled = vod.PullEvents(request(models.PullEventsRequest)).EventSet
check(len(pulled) == min(EVENTS, 16), "PullEvents: at most 16 events at once")
upload, task, deleted = pulled[0], pulled[1], pulled[2]
check(
    upload.EventType == "NewFileUpload"
    and upload.FileUploadEvent.MediaBasicInfo.SourceInfo.SourceContext == "context"
    and upload.ProcedureStateChangeEvent is None,
    "NewFileUpload parsed by the SDK's models, its SourceContext kept",
)
check(
    task.EventType == "ProcedureStateChanged"
    and task.ProcedureStateChangeEvent.ErrCode == 0
    and task.ProcedureStateChangeEvent.SessionContext == "session",
    "ProcedureStateChanged parsed, ErrCode and SessionContext kept",
)
check(
    deleted.EventType == "FileDeleted"
    and deleted.FileDeleteEvent.FileIdSet == ["5285890784273533167"],
    "FileDeleted parsed",
)
handles = [event.EventHandle for event in pulled]
check(len(set(handles)) == len(handles) and all(handles), "every event has its own handle")
vod.ConfirmEvents(request(models.ConfirmEventsRequest, EventHandles=handles))

rest = vod.PullEvents(request(models.PullEventsRequest)).EventSet
check(len(rest) == EVENTS - len(pulled), "PullEvents: the rest on the next call")
vod.ConfirmEvents(request(models.ConfirmEventsRequest, EventHandles=[e.EventHandle for e in rest]))
empty = vod.PullEvents(request(models.PullEventsRequest)).EventSet
check(not empty, "PullEvents: nothing once all are confirmed (an empty long poll)")
state = vod.DescribeEventsState(request(models.DescribeEventsStateRequest))
check(state.CountOfEventsToPull == 0, "DescribeEventsState: none waiting")

try:
    vod.ConfirmEvents(request(models.ConfirmEventsRequest, EventHandles=handles[:1]))
    check(False, "a confirmed handle is refused the second time")
except TencentCloudSDKException as e:
    check(
        e.code.startswith("InvalidParameter") and e.requestId,
        f"a used handle is refused: {e.code}",
    )

try:
    client(SECRET_KEY[::-1] + "x").DescribeEventConfig(request(models.DescribeEventConfigRequest))
    check(False, "a wrong key is refused")
except TencentCloudSDKException as e:
    check(
        e.code == "AuthFailure.SignatureFailure" and e.requestId,
        "a call signed with a wrong key is refused: AuthFailure.SignatureFailure",
    )

print("check-fake-vod: Tencent's SDK and the fake VOD API agree")
