// Preloaded into the Agents Playground (node --require "this file"). Two things its command line cannot do:
// - a server that names no address listens on 127.0.0.1 instead of every interface (the Playground calls
//   listen(port, callback) with no host, and nothing of ours binds beyond loopback);
// - the Playground ends when the process that started it is gone, even one killed outright (it runs in a
//   session of its own, so no terminal or process-group signal reaches it).
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
  } else if (isPort(first)) {
    if (typeof args[1] !== "string") args.splice(1, 0, LOOPBACK);
  } else if (typeof first === "object" && first !== null) {
    const named = ["host", "path", "fd", "handle", "_handle"].some((key) => key in first);
    if (!named) args[0] = { ...first, host: LOOPBACK };
  }
  return listen.apply(this, args);
};

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
