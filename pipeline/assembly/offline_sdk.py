"""The one place in moonpipe that creates SageMaker SDK sessions.

Building a definition must be offline, credential-free and independent of whoever's machine
it runs on. The SDK (v2.257) fights that in four ways; each is handled here, once:

* **Import side effects.** ``import sagemaker`` builds a default JumpStart session at import
  time, which resolves AWS credentials; with none configured botocore asks the EC2 metadata
  service (12 HTTP attempts to 169.254.169.254 on this machine), and with an ``AWS_PROFILE``
  that does not exist it raises ProfileNotFound. :func:`import_sdk` imports the SDK with
  ``AWS_EC2_METADATA_DISABLED=true`` and no ``AWS_PROFILE`` set only for the import, so a
  real on-EC2 or profile-based run of ``pipeline/targets/sagemaker.py`` afterwards still finds its
  credentials.
* **SDK defaults files.** A plain Session applies ``/etc/xdg/sagemaker/config.yaml`` and
  ``~/.config/sagemaker/config.yaml`` (and files named by ``SAGEMAKER_*_CONFIG_OVERRIDE``,
  even on S3). Our session class pins ``sagemaker_config`` to None (a property whose setter
  ignores what the SDK loads), and is created with both override variables pointing at
  ``os.devnull`` so nothing is even read. A None config also means no lookup re-validates
  the config schema (~0.2 s each, ~90 lookups per build).
* **Telemetry.** The only switch the SDK offers is ``TelemetryOptOut`` inside that config,
  which is exactly what would cost the ~0.2 s per lookup. The telemetry decorator wraps
  ``EstimatorBase.fit`` (the only decorated call in a build); :func:`call_without_telemetry`
  calls the function it wraps (``__wrapped__``): free, and proven by the no-socket test.
  ``Pipeline.create/start`` are decorated too; moonpipe's targets call boto3 directly.
* **Hidden default sessions.** Each Estimator creates a client on boto3's *default* session
  (for a TensorBoard helper); :func:`as_boto3_default` swaps in our offline session while
  a build runs.
* **Repeated data loading.** The SDK creates several botocore sessions of its own (one at
  import time for JumpStart); each parsed botocore's multi-MB endpoint and service-model
  JSON again (~0.7 s of a ~5 s ``--definition``). :func:`import_sdk` makes botocore hand
  every session one shared, caching data loader (read-only data; a loader already shares
  it within a session).
* **Uploads and AWS calls.** ``definition()`` uploads code through boto3. The session's
  botocore session has an empty credential chain (so nothing looks for credentials and
  nothing could sign a request) and an :class:`OfflineAws` ``before-call`` handler that
  answers every call before a request is built: S3 writes are captured as bytes, the
  bucket check the SDK makes is answered from config, anything else is a bug and raises.
  No fake credentials exist anywhere.
* **Pipelines that make their own sessions.** A module written the MLOps template's way
  (``get_pipeline(region, role, default_bucket, ...)``) builds ``boto3.Session(region)``,
  ``sagemaker.session.Session`` or ``PipelineSession`` itself. :func:`offline_build` makes
  every botocore session the building thread creates an offline one as above (the same
  handler, so every upload of every session is captured in one place), applies no SDK
  defaults file, and sends no telemetry, for the duration of the build only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import boto3
import botocore.credentials
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSResponse

if TYPE_CHECKING:
    from sagemaker.workflow.pipeline_context import PipelineSession

    from pipeline.config import PipelineConfig

_TELEMETRY = "sagemaker.telemetry.telemetry_logging"
_API_PARAMS = "moonpipe_api_params"
_BUCKET_CREATED = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


@contextlib.contextmanager
def _scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the block, then restore them."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@functools.cache
def _shared_loader(search_paths: Any = None) -> botocore.loaders.Loader:
    """One botocore data loader per search path for every session in this process."""
    return botocore.loaders.create_loader(search_paths)


@functools.cache
def import_sdk() -> None:
    """Import the SageMaker SDK once, without its import-time credential lookups or banner."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    # The SDK gives this logger a *stdout* handler at INFO unless a level is already set;
    # its "Not applying SDK defaults" lines would corrupt `--definition` / `--json` output.
    logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
    botocore.session.create_loader = _shared_loader
    # The JumpStart session reads AWS_PROFILE too: a profile that does not exist (yet) must
    # not stop an offline build, which never uses credentials.
    offline = {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
    }
    with _scoped_environ(offline):
        import sagemaker.workflow.pipeline_context  # noqa: F401


@contextlib.contextmanager
def quiet_sdk() -> Iterator[None]:
    """Silence the SDK's build-time chatter (pipeline-variable notes, "No Wait" warnings).

    Those messages describe SDK behaviour moonpipe relies on deliberately; errors still show.
    """
    sdk_logger = logging.getLogger("sagemaker")
    saved = sdk_logger.level
    sdk_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for category in (UserWarning, DeprecationWarning):
                warnings.filterwarnings("ignore", category=category, module=r"sagemaker\.")
            yield
    finally:
        sdk_logger.setLevel(saved)


@contextlib.contextmanager
def as_boto3_default(session: PipelineSession) -> Iterator[None]:
    """Make the offline boto3 session boto3's default for the duration of a build.

    Every SDK Estimator builds a TensorBoardApp that calls ``boto3.client("sagemaker")``
    on the *default* session, which resolves credentials (EC2 metadata requests when there
    are none). Pointing the default at our credential-free session keeps that offline.
    """
    saved = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session.boto_session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved


def call_without_telemetry(obj: Any, method_name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call ``obj.<method_name>(...)`` minus the SDK's telemetry decorator.

    The nearest class in the MRO whose method is telemetry-wrapped is found and the function
    it wraps is called; every other decorator (e.g. the PipelineSession capture) still runs.
    Overrides *above* that class are skipped, so use this only where they just delegate:
    ``PyTorch.fit`` only adds a channel for training recipes, which moonpipe never uses.

    Raises:
        TypeError: no class of ``obj`` has a telemetry-wrapped ``method_name`` (the SDK
            changed; the caller's assumptions need checking).
    """
    for klass in type(obj).__mro__:
        func = klass.__dict__.get(method_name)
        if func is not None and getattr(func, "__globals__", {}).get("__name__") == _TELEMETRY:
            return func.__wrapped__(obj, *args, **kwargs)
    raise TypeError(f"{type(obj).__name__}.{method_name} is not telemetry-wrapped")


class OfflineAws:
    """A botocore ``before-call`` handler that answers every AWS call of a build locally.

    Returning a response from ``before-call`` makes botocore skip serialising, signing and
    sending the request, so no credentials are needed and no socket is opened.
    """

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self._parts: dict[str, dict[int, bytes]] = {}

    def remember_params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """``before-parameter-build``: keep the caller's Bucket/Key/Body for ``on_call``."""
        context[_API_PARAMS] = params

    def on_call(
        self, event_name: str, context: dict[str, Any], **_: Any
    ) -> tuple[AWSResponse, dict[str, Any]]:
        """``before-call``: capture S3 writes, confirm the bucket, refuse everything else."""
        service, operation = event_name.split(".")[1], event_name.rsplit(".", 1)[-1]
        params = context.get(_API_PARAMS, {})
        answer = getattr(self, f"_{service}_{operation}", None)
        if service not in ("s3", "sts") or answer is None:
            raise RuntimeError(
                f"building the pipeline tried to call AWS ({event_name[12:]}); a build stays "
                "offline: give what it looks up (the role, the bucket) as an argument"
            )
        return AWSResponse("https://offline.invalid/", 200, {}, None), answer(params)

    def _key(self, params: Mapping[str, Any]) -> str:
        return f"s3://{params['Bucket']}/{params['Key']}"

    def _s3_PutObject(self, params: Mapping[str, Any]) -> dict[str, Any]:
        self.objects[self._key(params)] = body = _read_body(params.get("Body", b""))
        return {"ETag": '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'}

    def _s3_CreateMultipartUpload(self, params: Mapping[str, Any]) -> dict[str, Any]:
        upload_id = hashlib.sha256(self._key(params).encode()).hexdigest()
        self._parts[upload_id] = {}
        return {"Bucket": params["Bucket"], "Key": params["Key"], "UploadId": upload_id}

    def _s3_UploadPart(self, params: Mapping[str, Any]) -> dict[str, Any]:
        part = _read_body(params.get("Body", b""))
        self._parts[params["UploadId"]][int(params["PartNumber"])] = part
        return {"ETag": '"' + hashlib.md5(part, usedforsecurity=False).hexdigest() + '"'}

    def _s3_CompleteMultipartUpload(self, params: Mapping[str, Any]) -> dict[str, Any]:
        parts = self._parts.pop(params["UploadId"])
        self.objects[self._key(params)] = b"".join(parts[n] for n in sorted(parts))
        return {"Bucket": params["Bucket"], "Key": params["Key"], "ETag": '"multipart"'}

    def _s3_ListBuckets(self, params: Mapping[str, Any]) -> dict[str, Any]:
        # Session.default_bucket() checks the bucket exists; the configured one does.
        return {"Buckets": [{"Name": self.bucket, "CreationDate": _BUCKET_CREATED}]}

    def _s3_HeadBucket(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def _sts_GetCallerIdentity(self, params: Mapping[str, Any]) -> dict[str, Any]:
        # Session.default_bucket() without a bucket names one after the account.
        from pipeline.core.names import LOCAL_ACCOUNT

        arn = f"arn:aws:iam::{LOCAL_ACCOUNT}:user/moonpipe-offline-build"
        return {"Account": LOCAL_ACCOUNT, "Arn": arn, "UserId": "moonpipe-offline-build"}


def _read_body(body: Any) -> bytes:
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return body.read()


def _offline_boto_session(region: str, offline: OfflineAws) -> boto3.Session:
    """A boto3 session with no credentials, no profile (files) and every call answered locally."""
    core = botocore.session.Session()
    _make_offline(core, offline)
    return boto3.Session(botocore_session=core, region_name=region)


def _make_offline(core: botocore.session.Session, offline: OfflineAws) -> None:
    """Turn a new botocore session into one that reads no AWS files or credentials and whose
    every call ``offline`` answers."""
    if getattr(core, "_moonpipe_offline", None) is offline:
        return
    # No profile variable at all: AWS_PROFILE would name a profile os.devnull does not hold.
    core.session_var_map.update({"profile": (None, None, None, None)})
    core.set_config_variable("config_file", os.devnull)
    core.set_config_variable("credentials_file", os.devnull)
    core.register_component(
        "credential_provider", botocore.credentials.CredentialResolver(providers=[])
    )
    core.register("before-parameter-build", offline.remember_params)
    core.register("before-call", offline.on_call)
    core._moonpipe_offline = offline


@contextlib.contextmanager
def offline_build(region: str, bucket: str) -> Iterator[OfflineAws]:
    """Build any SDK pipeline offline: every session the calling thread creates is offline.

    For the block, in the calling thread only (another thread's sessions are its own):
    each new botocore session (so each boto3 session, SageMaker Session and PipelineSession
    made on it) reads no AWS files, has no credentials and has its calls answered by the one
    :class:`OfflineAws` this yields, whose ``objects`` collect every upload; a session made
    without a region gets ``region``; boto3's default session is a fresh one; no SDK
    defaults file is read and no telemetry is sent. Everything is put back afterwards.
    """
    import_sdk()
    import sagemaker.telemetry.telemetry_logging as telemetry

    offline = OfflineAws(bucket)
    builder = threading.get_ident()
    original_init = botocore.session.Session.__init__

    def offline_init(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if threading.get_ident() == builder:
            _make_offline(self, offline)
            self.set_config_variable("region", region)

    saved_default, saved_send = boto3.DEFAULT_SESSION, telemetry._send_telemetry_request
    quiet_defaults = {
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": os.devnull,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    botocore.session.Session.__init__ = offline_init
    telemetry._send_telemetry_request = _no_telemetry
    boto3.DEFAULT_SESSION = None
    try:
        with _scoped_environ(quiet_defaults):
            yield offline
    finally:
        botocore.session.Session.__init__ = original_init
        telemetry._send_telemetry_request = saved_send
        boto3.DEFAULT_SESSION = saved_default


def _no_telemetry(*args: Any, **kwargs: Any) -> None:
    """What the SDK's telemetry request becomes while a pipeline builds (nothing is sent)."""


if TYPE_CHECKING:

    class OfflinePipelineSession(PipelineSession):
        """What :func:`make_pipeline_session` returns (the class is made at run time, once
        the SDK is imported)."""

        offline: OfflineAws

        @property
        def uploads(self) -> dict[str, bytes]:
            """Every object written to S3 while building, by s3:// URI."""
            ...


@functools.cache
def _session_class() -> type[OfflinePipelineSession]:
    import_sdk()
    from sagemaker.workflow.pipeline_context import PipelineSession

    class _OfflineSession(PipelineSession):
        """A PipelineSession that applies no SDK defaults files and keeps its uploads."""

        offline: OfflineAws

        # Pinned: whatever the SDK loads or is given is ignored (see the module docstring).
        sagemaker_config = property(lambda self: None, lambda self, value: None)

        @property
        def uploads(self) -> dict[str, bytes]:
            """Every object written to S3 while building, by s3:// URI."""
            return dict(self.offline.objects)

    return cast("type[OfflinePipelineSession]", _OfflineSession)


def make_pipeline_session(cfg: PipelineConfig) -> OfflinePipelineSession:
    """Create the offline PipelineSession a build uses.

    Args:
        cfg: the validated configuration (region, bucket and key prefix are used).

    Returns:
        An ``OfflinePipelineSession``: a real ``PipelineSession`` for the configured region
        and bucket whose S3 writes are kept in ``.uploads`` instead of being sent.
    """
    session_class = _session_class()
    offline = OfflineAws(cfg.aws.bucket)
    quiet_defaults = {
        "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": os.devnull,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": os.devnull,
    }
    with _scoped_environ(quiet_defaults):
        session = session_class(
            boto_session=_offline_boto_session(cfg.aws.region, offline),
            default_bucket=cfg.aws.bucket,
            default_bucket_prefix=cfg.aws.prefix,
        )
    session.offline = offline
    return session
