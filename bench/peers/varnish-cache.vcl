# Varnish peer for bench/hits.sh and bench/run: Varnish's cache (malloc storage) in front of the sample backend.
# The script fills in @BACKEND_HOST@ / @BACKEND_PORT@ and runs:
#   varnishd -F -j none -a 127.0.0.1:PORT -s malloc,256m -f <generated file> -n <tmpfs dir> \
#            -p thread_pools=1 -p thread_pool_min=<connections + 8> -p thread_pool_max=...
# Varnish stores text bodies gzipped (beresp.do_gzip) and serves them as stored to clients that
# accept gzip, so the gzip scenario compresses once per object, not once per hit.
vcl 4.1;

import std;

backend sample {
    .host = "@BACKEND_HOST@";
    .port = "@BACKEND_PORT@";
}

sub vcl_recv {
    # Built-in rules otherwise: GET/HEAD without Authorization or Cookie are looked up; the key is
    # Host + URL, as perfgate's.
}

sub vcl_backend_response {
    # RFC 9111 4.4, as perfgate does: a successful unsafe request (passed, never cached) drops the
    # stored responses of the same-host URL it names in Content-Location (the sample backend's
    # POST /api/orders?item=ID names /api/items/ID). nginx and HAProxy have no equivalent.
    if (bereq.method != "GET" && bereq.method != "HEAD" && beresp.status < 400 &&
        beresp.http.Content-Location ~ "^/") {
        std.ban("req.http.host == " + bereq.http.host + " && req.url == " + beresp.http.Content-Location);
    }
    # The backend's Cache-Control (max-age=60) sets beresp.ttl (built-in behaviour).
    if (beresp.http.Content-Type ~ "^text/") {
        set beresp.do_gzip = true;
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache-Status = "HIT";
    } else {
        set resp.http.X-Cache-Status = "MISS";
    }
}
