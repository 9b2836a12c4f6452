# localbridge's Python runtime client: the Lambda Runtime API as awslambdaric 4.x speaks it,
# standard library only. Used when `awslambdaric` cannot be imported by the function's
# interpreter. Observable behaviour copied from awslambdaric: handler resolution, the context
# object, the error bodies, the `[ERROR]` log record with `\r` line breaks and U+00A0 indents,
# the logging format, unbuffered stdout/stderr.
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

API_PREFIX = "/2018-06-01/runtime"
ERROR_LOG_LINE_TERMINATE = "\r"
ERROR_LOG_IDENT = "\u00a0"


class FaultException(Exception):
    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return (
            f"Client([installation_id={self.installation_id},app_title={self.app_title},"
            f"app_version_name={self.app_version_name},app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}])"
        )


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


def make_client_context(d):
    if d is None:
        return None
    ctx = ClientContext()
    ctx.custom = d.get("custom")
    ctx.env = d.get("env")
    client = d.get("client")
    if client is not None:
        c = Client()
        c.installation_id = client.get("installation_id")
        c.app_title = client.get("app_title")
        c.app_version_name = client.get("app_version_name")
        c.app_version_code = client.get("app_version_code")
        c.app_package_name = client.get("app_package_name")
        ctx.client = c
    else:
        ctx.client = None
    return ctx


class LambdaContext:
    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms, invoked_function_arn=None, tenant_id=None):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = make_client_context(client_context)
        self.identity = CognitoIdentity()
        self.identity.cognito_identity_id = (cognito_identity or {}).get("cognitoIdentityId")
        self.identity.cognito_identity_pool_id = (cognito_identity or {}).get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},client_context={self.client_context},"
            f"identity={self.identity},tenant_id={self.tenant_id}])"
        )


class RuntimeClient:
    def __init__(self, address):
        self.address = address
        self.conn = http.client.HTTPConnection(address)

    def _request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, API_PREFIX + path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                return response, response.read()
            except (ConnectionError, http.client.HTTPException):
                # A keep-alive connection the server closed: one new connection, then give up.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.address)
                if attempt:
                    raise

    def next(self):
        response, body = self._request("GET", "/invocation/next")
        if response.status != 200:
            raise RuntimeError(f"/next answered {response.status}: {body!r}")
        return response, body

    def post_response(self, invoke_id, payload, content_type):
        self._request("POST", f"/invocation/{invoke_id}/response", payload, {"Content-Type": content_type})

    def post_error(self, invoke_id, error_body, xray_cause):
        headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-XRay-Error-Cause": xray_cause}
        self._request("POST", f"/invocation/{invoke_id}/error", error_body, headers)

    def post_init_error(self, error_type, error_body):
        headers = {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error_type}
        self._request("POST", "/init/error", error_body, headers)


def to_json(obj):
    ensure_ascii = os.environ.get("AWS_EXECUTION_ENV") not in (
        "AWS_Lambda_python3.12",
        "AWS_Lambda_python3.13",
        "AWS_Lambda_python3.14",
        "AWS_Lambda_python3.15",
    )
    return json.dumps(obj, ensure_ascii=ensure_ascii)


def get_handler(handler):
    try:
        (modname, fname) = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {e}")
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                "Runtime.BuiltInModuleConflict",
                f"Cannot use built-in module {modname} as a handler module",
            )
        m = importlib.import_module(modname.replace("/", "."))
    except FaultException:
        raise
    except ImportError as e:
        raise FaultException("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultException("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace)
    try:
        request_handler = getattr(m, fname)
    except AttributeError:
        raise FaultException("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    return request_handler


def error_result(ex, request_id, exc_info=None):
    if isinstance(ex, FaultException):
        return {
            "errorMessage": ex.msg,
            "errorType": ex.exception_type,
            "requestId": request_id,
            "stackTrace": ex.trace if ex.trace else [],
        }
    etype, value, tb = exc_info or sys.exc_info()
    stack = traceback.format_list(traceback.extract_tb(tb)[1:]) if tb else []
    return {
        "errorMessage": str(value),
        "errorType": etype.__name__ if etype else "Exception",
        "requestId": request_id,
        "stackTrace": stack,
    }


def log_error(result):
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        record = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "level": "ERROR",
            "errorMessage": result["errorMessage"],
            "errorType": result["errorType"],
            "requestId": result["requestId"],
            "stackTrace": result["stackTrace"],
        }
        sys.stdout.write(json.dumps(record) + "\n")
        return
    lines = [f"[ERROR] {result['errorType']}: {result['errorMessage']}"]
    if result["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for frame in result["stackTrace"]:
            for line in frame.rstrip("\n").split("\n"):
                lines.append(line.replace("  ", ERROR_LOG_IDENT * 2))
    sys.stdout.write(ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


def xray_cause(result):
    return json.dumps(
        {
            "working_directory": os.getcwd(),
            "exceptions": [{"message": result["errorMessage"], "type": result["errorType"], "stack": []}],
            "paths": [],
        }
    )


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record):
        record.aws_request_id = RequestIdFilter.request_id
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        out = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        if RequestIdFilter.request_id:
            out["requestId"] = RequestIdFilter.request_id
        return json.dumps(out)


def setup_logging():
    handler = logging.StreamHandler(sys.stdout)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        handler.terminator = ""
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "")
    if level:
        root.setLevel("DEBUG" if level.upper() == "TRACE" else level.upper())


class Unbuffered:
    """Flushes after every write, as awslambdaric's stdout and stderr do: what a handler prints
    is in the log before its answer."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()

    def __getattr__(self, attr):
        return getattr(self.stream, attr)


def main():
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    handler_name = sys.argv[1] if len(sys.argv) > 1 else os.environ["_HANDLER"]
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    setup_logging()
    try:
        request_handler = get_handler(handler_name)
    except FaultException as e:
        result = error_result(e, "")
        log_error(result)
        client.post_init_error(result["errorType"], to_json(result))
        sys.exit(1)
    except Exception as e:  # an exception raised by the module's own code at import
        result = error_result(e, "")
        log_error(result)
        client.post_init_error(result["errorType"], to_json(result))
        sys.exit(1)
    while True:
        response, body = client.next()
        invoke_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        deadline = int(response.getheader("Lambda-Runtime-Deadline-Ms") or "0")
        arn = response.getheader("Lambda-Runtime-Invoked-Function-Arn")
        trace = response.getheader("Lambda-Runtime-Trace-Id")
        client_context = response.getheader("Lambda-Runtime-Client-Context")
        cognito = response.getheader("Lambda-Runtime-Cognito-Identity")
        tenant = response.getheader("Lambda-Runtime-Aws-Tenant-Id")
        if trace:
            os.environ["_X_AMZN_TRACE_ID"] = trace
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        RequestIdFilter.request_id = invoke_id
        try:
            try:
                event = json.loads(body) if body else None
            except Exception as e:
                raise FaultException("Runtime.UnmarshalError", f"Unable to unmarshal input: {e}")
            context = LambdaContext(
                invoke_id,
                json.loads(client_context) if client_context else None,
                json.loads(cognito) if cognito else None,
                deadline,
                arn,
                tenant,
            )
            result = request_handler(event, context)
            if isinstance(result, (bytes, bytearray)):
                client.post_response(invoke_id, bytes(result), "application/unknown")
                continue
            try:
                payload = to_json(result)
            except Exception as e:
                raise FaultException("Runtime.MarshalError", f"Unable to marshal response: {e}")
            client.post_response(invoke_id, payload.encode("utf-8"), "application/json")
        except Exception as e:
            result = error_result(e, invoke_id)
            log_error(result)
            client.post_error(invoke_id, to_json(result).encode("utf-8"), xray_cause(result))


if __name__ == "__main__":
    main()
