"""CatalogService: what the caller may see of datasets and products."""

from __future__ import annotations

import grpc

from zone._proto import catalog_pb2, catalog_pb2_grpc
from zone.server.call import current_call
from zone.server.servicers import catalog_convert as convert


class CatalogServicer(catalog_pb2_grpc.CatalogServiceServicer):
    """Lists and describes granted datasets and products; never rows."""

    def ListDatasets(
        self, request: catalog_pb2.ListDatasetsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListDatasetsResponse:
        """Datasets the caller's products read (all of them for admins)."""
        call = current_call()
        views = call.services.visibility.datasets(call.policies, call.require_principal())
        return catalog_pb2.ListDatasetsResponse(
            datasets=[convert.dataset_summary(v) for v in views]
        )

    def DescribeDataset(
        self, request: catalog_pb2.DescribeDatasetRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.DatasetDescription:
        """Schema and public metadata of one visible dataset."""
        call = current_call()
        view = call.services.visibility.dataset(
            call.policies, call.require_principal(), request.name
        )
        return convert.dataset_description(view)

    def ListProducts(
        self, request: catalog_pb2.ListProductsRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ListProductsResponse:
        """Products granted to the caller (all of them for admins)."""
        call = current_call()
        views = call.services.visibility.products(
            call.policies, call.require_principal(), request.dataset
        )
        return catalog_pb2.ListProductsResponse(
            products=[convert.product_summary(v) for v in views]
        )

    def DescribeProduct(
        self, request: catalog_pb2.DescribeProductRequest, context: grpc.ServicerContext
    ) -> catalog_pb2.ProductDescription:
        """Approved parameters of one visible product and the caller's grant terms."""
        call = current_call()
        call.product = request.id[:128]
        view = call.services.visibility.product(call.policies, call.require_principal(), request.id)
        return convert.product_description(view)
