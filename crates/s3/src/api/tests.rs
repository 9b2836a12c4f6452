//! In-process tests of the `s3s` layer: hand-built HTTP requests through `S3Service::call`.
