"""The test suite; its folders mirror the package (engine, harness, codec, report, collect)."""
