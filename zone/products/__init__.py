"""The computations behind products: DP statistics (DuckDB + OpenDP).

Training (Opacus) and verification (TenSEAL) products live in sibling packages. Nothing here
imports grpc or generated code; budget is charged by the caller before anything here runs.
"""
