# Varnish peer for bench/hits.sh and bench/run: Varnish's cache (malloc storage) in front of the sample backend.
# The script fills in @BACKEND_HOST@ / @BACKEND_PORT@ and runs (bench/lib.sh start_varnish):
#   varnishd -F -j none -a 127.0.0.1:PORT -s malloc,256m -f <generated file> -n <tmpfs dir> \
#            -p thread_pools=1 -p thread_pool_min=<2 * connections + 16> -p thread_pool_max=... \
#            -p thread_queue_limit=... -p gzip_level=6
# Varnish stores the bodies of the gzip policy's types gzipped (beresp.do_gzip) and serves them
# as stored to clients that accept gzip, so the gzip scenario compresses once per object, not
# once per hit; a client that does not accept gzip gets the stored body gunzipped on delivery.
# The backend has no .max_connections: Varnish keeps no bounded pool (the others' is 512, more
# than the highest level's connections, so it never binds either).
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
    # POST /api/orders?item=ID names /api/items/ID). nginx, HAProxy and Traffic Server have no
    # equivalent.
    if (bereq.method != "GET" && bereq.method != "HEAD" && beresp.status < 400 &&
        beresp.http.Content-Location ~ "^/") {
        std.ban("req.http.host == " + bereq.http.host + " && req.url == " + beresp.http.Content-Location);
    }
    # The backend's Cache-Control (max-age=60) sets beresp.ttl (built-in behaviour).
    # The bench gzip policy, the same for every target (bench/conf/*.toml, bench/peers/*): gzip for
    # text/html, text/css, application/javascript, application/json and image/svg+xml, bodies of
    # 256 bytes and more (by Content-Length; a body of unknown length is compressed), level 6
    # (the gzip_level parameter, set on the command line).
    if (beresp.http.Content-Type ~ "^(text/html|text/css|application/javascript|application/json|image/svg\+xml)\s*(;|$)" &&
        !beresp.http.Content-Encoding &&
        (!beresp.http.Content-Length || std.integer(beresp.http.Content-Length, 0) >= 256)) {
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
