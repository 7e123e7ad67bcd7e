"""A client that was not written with the zone: it learns the API by reflection alone."""

from __future__ import annotations

import grpc
from google.protobuf import json_format
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from zonekit import TOKENS, target

from zone.server.app import RunningZone
from zone.server.methods import METHOD_TABLE


def test_reflection_lists_every_service_and_drives_a_call(shared_zone: RunningZone) -> None:
    with grpc.insecure_channel(target(shared_zone)) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {
            "zone.v1.CatalogService",
            "zone.v1.AdminService",
            "grpc.health.v1.Health",
        } <= services
        pool = DescriptorPool(database)
        methods = {
            f"/{name}/{m.name}" for name in services for m in pool.FindServiceByName(name).methods
        }
        assert methods <= set(METHOD_TABLE)

        method = pool.FindMethodByName("zone.v1.CatalogService.DescribeDataset")
        request_cls = GetMessageClass(method.input_type)
        response_cls = GetMessageClass(method.output_type)
        call = channel.unary_unary(
            "/zone.v1.CatalogService/DescribeDataset",
            request_serializer=request_cls.SerializeToString,
            response_deserializer=response_cls.FromString,
        )
        request = json_format.ParseDict({"name": "enterprises"}, request_cls())
        reply = call(request, metadata=(("authorization", f"Bearer {TOKENS['bank']}"),), timeout=10)
        as_json = json_format.MessageToDict(reply)
        assert as_json["entityKey"] == "uscc"
        assert {c["name"] for c in as_json["columns"]} >= {"district", "legal_rep_id"}


def test_health_needs_no_credentials(shared_zone: RunningZone) -> None:
    with grpc.insecure_channel(target(shared_zone)) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "zone.v1.CatalogService", "zone.v1.AdminService"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
