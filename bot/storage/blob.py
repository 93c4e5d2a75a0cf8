"""Azure Blob storage behind the `Store` interface, for deployments that run several replicas."""

from __future__ import annotations

import hashlib

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from bot.storage.base import ConflictError, JsonDict, StorageError, decode, encode, validate_key

__all__ = ["BlobStore"]


class BlobStore:
    """One blob per key; the blob's own ETag is the document's version (`if_match` / `if_none_match`)."""

    kind = "blob"

    def __init__(self, service: BlobServiceClient, container: ContainerClient) -> None:
        self._service = service
        self._container = container

    @classmethod
    async def open(cls, connection_string: str, container_name: str) -> BlobStore:
        service = BlobServiceClient.from_connection_string(connection_string)
        container = service.get_container_client(container_name)
        try:
            await container.create_container()
        except ResourceExistsError:
            pass
        except (AzureError, ValueError) as exc:
            await service.close()
            raise StorageError(
                f"cannot open blob container {container_name!r}: {type(exc).__name__}"
            ) from exc
        return cls(service, container)

    async def read(self, key: str) -> tuple[JsonDict, str | None]:
        blob = self._container.get_blob_client(_blob_name(key))
        try:
            downloader = await blob.download_blob()
            body = await downloader.readall()
        except ResourceNotFoundError:
            return {}, None
        except AzureError as exc:
            raise StorageError(f"blob read failed: {type(exc).__name__}") from exc
        return decode(body), downloader.properties.etag

    async def write(self, key: str, state: JsonDict, etag: str | None) -> str:
        blob = self._container.get_blob_client(_blob_name(key))
        body = encode(state).encode("utf-8")
        try:
            if etag is None:
                result = await blob.upload_blob(body, overwrite=False, metadata={"key": _ascii(key)})
            else:
                result = await blob.upload_blob(
                    body,
                    overwrite=True,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                    metadata={"key": _ascii(key)},
                )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as exc:
            raise ConflictError(key) from exc
        except AzureError as exc:
            raise StorageError(f"blob write failed: {type(exc).__name__}") from exc
        return str(result["etag"])

    async def delete(self, key: str, etag: str | None = None) -> None:
        blob = self._container.get_blob_client(_blob_name(key))
        try:
            if etag is None:
                await blob.delete_blob()
            else:
                await blob.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            return
        except ResourceModifiedError as exc:
            # A conditional delete of a blob that is already gone also fails its precondition.
            if (await self.read(key))[1] is None:
                return
            raise ConflictError(key) from exc
        except AzureError as exc:
            raise StorageError(f"blob delete failed: {type(exc).__name__}") from exc

    async def scan(self, prefix: str) -> list[tuple[str, float]]:
        namespace = _blob_name(prefix if "/" in prefix else prefix + "/x").split("/", 1)[0]
        found: list[tuple[str, float]] = []
        try:
            async for blob in self._container.list_blobs(
                name_starts_with=f"{namespace}/", include=["metadata"]
            ):
                key = _unascii((blob.metadata or {}).get("key", ""))
                if key.startswith(prefix) and blob.last_modified is not None:
                    found.append((key, blob.last_modified.timestamp()))
        except AzureError as exc:
            raise StorageError(f"blob listing failed: {type(exc).__name__}") from exc
        return sorted(found)

    async def close(self) -> None:
        await self._container.close()
        await self._service.close()


def _blob_name(key: str) -> str:
    """Keys hold characters blob names handle badly (`:`, `;`, `@`): name blobs by a digest of the key."""
    validate_key(key)
    namespace = key.split("/", 1)[0] if "/" in key else "misc"
    if not namespace.isalnum():
        namespace = "misc"
    return f"{namespace}/{hashlib.sha256(key.encode('utf-8')).hexdigest()}.json"


def _unascii(stored: str) -> str:
    """The key as written, from its ASCII form in the metadata."""
    if "\\" not in stored:
        return stored
    return stored.encode("ascii").decode("unicode_escape")


def _ascii(key: str) -> str:
    """Blob metadata is ASCII only; the key is kept there to make a container readable by a person."""
    return key.encode("ascii", "backslashreplace").decode("ascii")
