# Varnish peer of tests/differential/cache_behaviour.py. The script fills in @ORIGIN_PORT@ and runs
#   varnishd -F -j none -n RUN_DIR -a 127.0.0.1:PORT -T 127.0.0.1:0 -f THIS -s malloc,64m
# Varnish's built-in VCL decides everything (its defaults: default_ttl 120 s for responses without
# freshness, grace from stale-while-revalidate with a background fetch, request coalescing,
# GET/HEAD without Authorization or Cookie looked up, unsafe methods passed without invalidating).
# Added: a purge by tag, since Varnish has none built in: a BAN request from loopback with
# "X-Cache-Tag: TAG" bans the objects whose Cache-Tag lists TAG; and X-Cache-Status (HIT/MISS)
# on responses, for reading a run by hand.
vcl 4.1;

import std;

backend origin {
    .host = "127.0.0.1";
    .port = "@ORIGIN_PORT@";
}

acl purgers {
    "127.0.0.1";
}

sub vcl_recv {
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(405, "Not allowed"));
        }
        if (req.http.X-Cache-Tag !~ "^[A-Za-z0-9_.-]+$") {
            return (synth(400, "Bad tag"));
        }
        if (std.ban("obj.http.Cache-Tag ~ (^|[^A-Za-z0-9_.-])" + req.http.X-Cache-Tag +
                   "([^A-Za-z0-9_.-]|$)")) {
            return (synth(200, "Banned"));
        }
        return (synth(400, std.ban_error()));
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache-Status = "HIT";
    } else {
        set resp.http.X-Cache-Status = "MISS";
    }
}
