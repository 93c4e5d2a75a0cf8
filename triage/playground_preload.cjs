// Preloaded into the Agents Playground (node --require): a server that names no address listens on
// 127.0.0.1 instead of every interface. The Playground calls listen(port, callback) with no host, and
// nothing of ours binds or connects beyond loopback.
"use strict";
const net = require("net");

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

function isPort(value) {
  return typeof value === "number" || (typeof value === "string" && /^\d+$/.test(value));
}

net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first === undefined || typeof first === "function") {
    args.unshift(0, LOOPBACK);
  } else if (isPort(first) && typeof args[1] !== "string") {
    args.splice(1, 0, LOOPBACK);
  } else if (first && typeof first === "object" && !("host" in first || "path" in first || "fd" in first || "handle" in first || "_handle" in first)) {
    args[0] = { ...first, host: LOOPBACK };
  }
  return listen.apply(this, args);
};
