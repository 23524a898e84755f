/**
 * The last rule of every Cloudflare Tunnel ingress list: cloudflared matches rules top-down and
 * requires a final rule without a hostname; ours answers 404 to anything not routed.
 */
export const CATCH_ALL_SERVICE = "http_status:404";
