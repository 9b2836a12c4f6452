-- wrk script: SQS SendMessage over AWS JSON 1.0 (what current SDKs send).
wrk.method = "POST"
wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessage"
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.body = '{"QueueUrl":"http://127.0.0.1/000000000000/wrk","MessageBody":"hello from wrk"}'
