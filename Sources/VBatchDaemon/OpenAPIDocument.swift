/// The OpenAPI 3.0.3 document of vbatchd's HTTP/JSON API, served at `GET /v1/openapi.json`.
///
/// Written by hand from the routes of ``buildRouter(engine:reloader:)`` and the wire types of
/// VBatchAPI (and the job list written by `JobListJSON` in VBatchStore). `OpenAPIDocumentTests`
/// keeps it true: every `$ref` resolves, its operations are exactly the router's routes, and
/// real encoded instances of the wire types match their schemas. Change it with the API.
public enum OpenAPIDocument {
    /// The document as pretty-printed JSON.
    public static let json: String = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "vbatchd API",
    "version": "1",
    "description": "vbatchd's HTTP/JSON API, version 1. All paths are under /v1 (but /metrics, for Prometheus); bodies are JSON (UTF-8) except a job file's bytes; times are Unix seconds (numbers, possibly fractional); optional fields of an answer are omitted, never null.\n\nThe same API is served on two transports:\n\n- the Unix socket (default /run/vbatch/vbatchd.sock): the caller is the Unix user of the connecting process, which the daemon reads from the kernel (SO_PEERCRED); nothing the client sends names it, and no token is used;\n- the TLS listener (`listen` in the `[api]` table of the site file), where a request is authenticated either by a bearer token (`Authorization: Bearer TOKEN`, issued by POST /v1/tokens, scoped `read`, `user` or `operator`), or by a relay: a client certificate (mutual TLS) whose subject is one of the site's `relays`, asserting the local user it acts for in the `X-VBatch-User`, `X-VBatch-UID` and `X-VBatch-Groups` headers (OpenAPI 3.0 has no mutual-TLS security scheme, so the relay is only described here and in the bearer scheme).\n\nA `read` token may only use GET routes; a `user` token may do what its user may do through the socket. Operator routes (POST /v1/nodes/{name}/state, POST /v1/nodes/{name}/fence, POST /v1/queues/{name}/state, POST /v1/images/{name}/push, POST /v1/reload, and `all=1` on listings of jobs, history, accounting and tokens) need operator rights: an operator of the site file on the Unix socket, or an `operator` token (relays never act for operators). Tokens are created, listed and revoked on the Unix socket or through a relay, never with a token.\n\nEvery non-2xx response has an ErrorResponse body: `{\"error\": \"one line\", \"code\": \"...\"}`."
  },
  "tags": [
    {
      "name": "jobs",
      "description": "Submit, list, show and control jobs; their output."
    },
    {
      "name": "queues",
      "description": "Queues and their run-time state."
    },
    {
      "name": "nodes",
      "description": "Nodes and their run-time state."
    },
    {
      "name": "images",
      "description": "The image catalogue on the nodes."
    },
    {
      "name": "accounting",
      "description": "What finished jobs used."
    },
    {
      "name": "admin",
      "description": "The daemon itself."
    },
    {
      "name": "identity",
      "description": "Who the caller is."
    },
    {
      "name": "tokens",
      "description": "Bearer tokens for the TLS listener."
    },
    {
      "name": "meta",
      "description": "This document."
    }
  ],
  "security": [
    {
      "bearer": []
    }
  ],
  "paths": {
    "/v1/jobs": {
      "get": {
        "operationId": "listJobs",
        "tags": [
          "jobs"
        ],
        "summary": "List active jobs",
        "description": "The caller's jobs that have not ended (every user's with all=1), oldest first.",
        "parameters": [
          {
            "$ref": "#/components/parameters/All"
          }
        ],
        "responses": {
          "200": {
            "description": "The jobs.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/JobInfo"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "operationId": "submitJobs",
        "tags": [
          "jobs"
        ],
        "summary": "Submit a job (or an array of jobs)",
        "description": "Validated, routed to an execution queue and recorded durably before the answer.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/SubmitRequest"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Submitted.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/SubmitResponse"
                }
              }
            },
            "links": {
              "getJob": {
                "operationId": "getJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "cancelJob": {
                "operationId": "cancelJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "holdJob": {
                "operationId": "holdJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "releaseJob": {
                "operationId": "releaseJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "suspendJob": {
                "operationId": "suspendJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "resumeJob": {
                "operationId": "resumeJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "checkpointJob": {
                "operationId": "checkpointJob",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "getJobOutput": {
                "operationId": "getJobOutput",
                "parameters": {
                  "id": "$response.body#/ids/0"
                }
              },
              "getJobFile": {
                "operationId": "getJobFile",
                "parameters": {
                  "id": "$response.body#/ids/0",
                  "path": "stdout"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}": {
      "get": {
        "operationId": "getJob",
        "tags": [
          "jobs"
        ],
        "summary": "Show a job with its history",
        "description": "The caller's own job, or any job for an operator.",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobDetail"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "delete": {
        "operationId": "cancelJob",
        "tags": [
          "jobs"
        ],
        "summary": "Cancel a job",
        "description": "A waiting job is cancelled at once, a running one by destroying its VM (the answer may still show it running).",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/hold": {
      "post": {
        "operationId": "holdJob",
        "tags": [
          "jobs"
        ],
        "summary": "Hold a job",
        "description": "A queued job is never started until released; a running or suspended one is saved and stays saved until released.",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/release": {
      "post": {
        "operationId": "releaseJob",
        "tags": [
          "jobs"
        ],
        "summary": "Release a held or saved job",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/suspend": {
      "post": {
        "operationId": "suspendJob",
        "tags": [
          "jobs"
        ],
        "summary": "Suspend a running job",
        "description": "Its VM's vCPUs are paused; it keeps its slots.",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/resume": {
      "post": {
        "operationId": "resumeJob",
        "tags": [
          "jobs"
        ],
        "summary": "Resume a suspended job",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/checkpoint": {
      "post": {
        "operationId": "checkpointJob",
        "tags": [
          "jobs"
        ],
        "summary": "Save a running or suspended job's VM",
        "description": "The job stays saved until released.",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "The job.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/output": {
      "get": {
        "operationId": "getJobOutput",
        "tags": [
          "jobs"
        ],
        "summary": "A job's streams, exit code and output files",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          }
        ],
        "responses": {
          "200": {
            "description": "Its output.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/JobOutput"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/jobs/{id}/files": {
      "get": {
        "operationId": "getJobFile",
        "tags": [
          "jobs"
        ],
        "summary": "One file of a job's spool",
        "description": "The file's bytes as they are.",
        "parameters": [
          {
            "$ref": "#/components/parameters/JobID"
          },
          {
            "$ref": "#/components/parameters/FilePath"
          }
        ],
        "responses": {
          "200": {
            "description": "The file.",
            "content": {
              "application/octet-stream": {
                "schema": {
                  "type": "string",
                  "format": "binary"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/queues": {
      "get": {
        "operationId": "listQueues",
        "tags": [
          "queues"
        ],
        "summary": "List the queues",
        "responses": {
          "200": {
            "description": "Every queue, routing and execution.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/QueueInfo"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/queues/{name}/state": {
      "post": {
        "operationId": "setQueueState",
        "tags": [
          "queues"
        ],
        "summary": "Enable, disable, start or stop a queue (operators)",
        "description": "Kept across daemon restarts.",
        "parameters": [
          {
            "$ref": "#/components/parameters/QueueName"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/QueueStateRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The queue.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/QueueInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/nodes": {
      "get": {
        "operationId": "listNodes",
        "tags": [
          "nodes"
        ],
        "summary": "List the nodes",
        "responses": {
          "200": {
            "description": "Every node.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/NodeInfo"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/nodes/{name}/state": {
      "post": {
        "operationId": "setNodeState",
        "tags": [
          "nodes"
        ],
        "summary": "Drain a node or put it back (operators)",
        "description": "Kept across daemon restarts.",
        "parameters": [
          {
            "$ref": "#/components/parameters/NodeName"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/NodeStateRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The node.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/NodeInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/nodes/{name}/fence": {
      "post": {
        "operationId": "fenceNode",
        "tags": [
          "nodes"
        ],
        "summary": "Fence a node (operators)",
        "description": "Declares the node's VMs gone: its jobs are requeued (or failed, per queue) at once and it takes no job until put back. Kept across daemon restarts.",
        "parameters": [
          {
            "$ref": "#/components/parameters/NodeName"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/NodeFenceRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The node.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/NodeInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/images/{name}/push": {
      "post": {
        "operationId": "pushImage",
        "tags": [
          "images"
        ],
        "summary": "Copy an image into nodes' image caches (operators)",
        "description": "All nodes at once; the answer has one result per node, failures included.",
        "parameters": [
          {
            "$ref": "#/components/parameters/ImageName"
          }
        ],
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/ImagePushRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "One result per node, sorted by node.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/ImagePushResult"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/reload": {
      "post": {
        "operationId": "reload",
        "tags": [
          "admin"
        ],
        "summary": "Reload the configuration files (operators)",
        "description": "The files are read and checked; only a configuration without errors replaces the running one. The daemon then restarts its services; running jobs keep running. 409: the files hold errors (listed; nothing changed), or this vbatchd was not started from configuration files.",
        "responses": {
          "200": {
            "description": "Accepted.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ReloadResponse"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "409": {
            "$ref": "#/components/responses/Conflict"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/config": {
      "get": {
        "operationId": "showConfig",
        "tags": [
          "admin"
        ],
        "summary": "The configuration the daemon runs on, with origins (operators)",
        "description": "Every key of the site file, the queues and the images the daemon loaded at its start or last reload, written or defaulted, with its value in TOML syntax and the file:line it was written on (`vbatch config show --origin`). Run-time changes (drains, stopped queues) are not included.",
        "responses": {
          "200": {
            "description": "The settings, tables in the order site, api, accounting, factory, nodes, VOs, pools, queues, images.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/ConfigResponse"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/diag": {
      "get": {
        "operationId": "getDiagnostics",
        "tags": [
          "admin"
        ],
        "summary": "The daemon's since-start figures (vbatch diag)",
        "description": "Like Slurm's sdiag: scheduling cycles, placements, backfill starts and preemptions, durable store commits, API requests by route and libvirt calls by worker node, counted since this vbatchd started (a reload starts again); jobs pending and running and each node's libvirt connection as of now.",
        "responses": {
          "200": {
            "description": "The report.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Diagnostics"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/metrics": {
      "get": {
        "operationId": "getMetrics",
        "tags": [
          "admin"
        ],
        "summary": "Prometheus metrics",
        "description": "The site's gauges (queues, VOs, nodes, pools, state directory), counters and histograms in the Prometheus text exposition format 0.0.4, for a Prometheus scraping with a read token. Outside /v1: the path Prometheus expects. docs/operations.md lists the metrics.",
        "responses": {
          "200": {
            "description": "The metrics.",
            "content": {
              "text/plain": {
                "schema": {
                  "type": "string"
                }
              }
            }
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/history": {
      "get": {
        "operationId": "listHistory",
        "tags": [
          "jobs"
        ],
        "summary": "List finished jobs",
        "description": "Newest first.",
        "parameters": [
          {
            "$ref": "#/components/parameters/All"
          },
          {
            "$ref": "#/components/parameters/Limit"
          },
          {
            "$ref": "#/components/parameters/HistorySince"
          }
        ],
        "responses": {
          "200": {
            "description": "The jobs.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/JobInfo"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/accounting": {
      "get": {
        "operationId": "getAccounting",
        "tags": [
          "accounting"
        ],
        "summary": "Accounting records of a period, or their totals",
        "description": "The caller's records (every user's with all=1) of jobs that ended in [since, until): an AccountingReport, or with `by` an AccountingSummary.",
        "parameters": [
          {
            "$ref": "#/components/parameters/AccountingSince"
          },
          {
            "$ref": "#/components/parameters/AccountingUntil"
          },
          {
            "$ref": "#/components/parameters/All"
          },
          {
            "$ref": "#/components/parameters/By"
          }
        ],
        "responses": {
          "200": {
            "description": "The records or their totals.",
            "content": {
              "application/json": {
                "schema": {
                  "oneOf": [
                    {
                      "$ref": "#/components/schemas/AccountingReport"
                    },
                    {
                      "$ref": "#/components/schemas/AccountingSummary"
                    }
                  ]
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/whoami": {
      "get": {
        "operationId": "whoami",
        "tags": [
          "identity"
        ],
        "summary": "Who the daemon takes the caller to be",
        "responses": {
          "200": {
            "description": "The caller.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/WhoAmI"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/tokens": {
      "get": {
        "operationId": "listTokens",
        "tags": [
          "tokens"
        ],
        "summary": "List bearer tokens",
        "description": "The caller's tokens (every user's with all=1, operators only), newest first, revoked and expired ones included. Not with a token (403): tokens are managed on the Unix socket or through a relay.",
        "parameters": [
          {
            "$ref": "#/components/parameters/All"
          }
        ],
        "responses": {
          "200": {
            "description": "The tokens.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "array",
                  "items": {
                    "$ref": "#/components/schemas/TokenInfo"
                  }
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      },
      "post": {
        "operationId": "createToken",
        "tags": [
          "tokens"
        ],
        "summary": "Create a bearer token",
        "description": "A token for the TLS listener. Not with a token (403): tokens are managed on the Unix socket or through a relay. Naming another user needs an operator; an operator token is created only by that operator for themselves, on the Unix socket. The lifetime is capped by the site (400 beyond).",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/TokenRequest"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "Created; the secret is in the answer only.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/TokenCreated"
                }
              }
            },
            "links": {
              "revokeToken": {
                "operationId": "revokeToken",
                "parameters": {
                  "id": "$response.body#/info/id"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "413": {
            "$ref": "#/components/responses/PayloadTooLarge"
          },
          "503": {
            "$ref": "#/components/responses/Unavailable"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/tokens/{id}": {
      "delete": {
        "operationId": "revokeToken",
        "tags": [
          "tokens"
        ],
        "summary": "Revoke a bearer token",
        "description": "The caller's own token, or any token for an operator (404 for another user's). Revoking a revoked token keeps its first revocation time. Not with a token (403).",
        "parameters": [
          {
            "$ref": "#/components/parameters/TokenID"
          }
        ],
        "responses": {
          "200": {
            "description": "The token, revoked.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/TokenInfo"
                }
              }
            }
          },
          "400": {
            "$ref": "#/components/responses/BadRequest"
          },
          "401": {
            "$ref": "#/components/responses/Unauthenticated"
          },
          "403": {
            "$ref": "#/components/responses/Forbidden"
          },
          "404": {
            "$ref": "#/components/responses/NotFound"
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    },
    "/v1/openapi.json": {
      "get": {
        "operationId": "getOpenAPI",
        "tags": [
          "meta"
        ],
        "summary": "This document",
        "description": "Needs no credentials.",
        "security": [],
        "responses": {
          "200": {
            "description": "The OpenAPI document.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "default": {
            "$ref": "#/components/responses/Error"
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "On the TLS listener: a token from POST /v1/tokens, scoped read (GET routes only), user or operator. Instead of a token, a relay may authenticate with a client certificate listed in the site's relays (mutual TLS) and assert the user it acts for in the X-VBatch-User, X-VBatch-UID and X-VBatch-Groups headers. On the Unix socket no credentials are sent: the caller is the connecting process's user (SO_PEERCRED)."
      }
    },
    "parameters": {
      "JobID": {
        "name": "id",
        "in": "path",
        "required": true,
        "description": "A job id.",
        "schema": {
          "type": "integer",
          "format": "int64",
          "minimum": 1
        }
      },
      "TokenID": {
        "name": "id",
        "in": "path",
        "required": true,
        "description": "A token id.",
        "schema": {
          "type": "integer",
          "format": "int64",
          "minimum": 1
        }
      },
      "NodeName": {
        "name": "name",
        "in": "path",
        "required": true,
        "description": "A node's name.",
        "schema": {
          "type": "string",
          "minLength": 1,
          "maxLength": 64,
          "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"
        }
      },
      "QueueName": {
        "name": "name",
        "in": "path",
        "required": true,
        "description": "A queue's name.",
        "schema": {
          "type": "string",
          "minLength": 1,
          "maxLength": 64,
          "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"
        }
      },
      "ImageName": {
        "name": "name",
        "in": "path",
        "required": true,
        "description": "An image's name in the catalogue.",
        "schema": {
          "type": "string",
          "minLength": 1,
          "maxLength": 64,
          "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"
        }
      },
      "All": {
        "name": "all",
        "in": "query",
        "required": false,
        "description": "`1`: every user's, not only the caller's (operators only; 403 otherwise). Any other value is the same as none.",
        "schema": {
          "type": "string",
          "enum": [
            "1"
          ]
        }
      },
      "Limit": {
        "name": "limit",
        "in": "query",
        "required": false,
        "description": "At most this many jobs (default 100); anything but an integer of at least 1 is a 400.",
        "schema": {
          "type": "integer",
          "format": "int64",
          "minimum": 1,
          "default": 100
        }
      },
      "HistorySince": {
        "name": "since",
        "in": "query",
        "required": false,
        "description": "Only jobs that ended at or after this Unix time (seconds).",
        "schema": {
          "type": "number",
          "format": "double"
        }
      },
      "AccountingSince": {
        "name": "since",
        "in": "query",
        "required": false,
        "description": "Start of the period, Unix seconds (default 0); must not be after until.",
        "schema": {
          "type": "number",
          "format": "double"
        }
      },
      "AccountingUntil": {
        "name": "until",
        "in": "query",
        "required": false,
        "description": "End of the period (excluded), Unix seconds (default: now).",
        "schema": {
          "type": "number",
          "format": "double"
        }
      },
      "By": {
        "name": "by",
        "in": "query",
        "required": false,
        "description": "Sum the records per this attribute: the answer is an AccountingSummary instead of an AccountingReport.",
        "schema": {
          "$ref": "#/components/schemas/AccountingGrouping"
        }
      },
      "FilePath": {
        "name": "path",
        "in": "query",
        "required": true,
        "description": "The file: `stdout`, `stderr`, `agent.log`, `console.log`, or `output/...` (no empty, `.` or `..` component; less than 4096 bytes; no NUL byte).",
        "schema": {
          "type": "string",
          "minLength": 1,
          "maxLength": 4095,
          "pattern": "^(stdout|stderr|agent\\.log|console\\.log|output(/[^/\\u0000]+)+)$"
        }
      }
    },
    "responses": {
      "BadRequest": {
        "description": "The request is wrong (code bad_request): a malformed path id, query parameter or body, a value the daemon refuses, or (TLS listener) both a token and a relay's assertion, or a relay's malformed X-VBatch-* headers.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "Unauthenticated": {
        "description": "No valid credentials (code unauthenticated): on the TLS listener, a missing, unknown, expired or revoked bearer token and no relay certificate.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "Forbidden": {
        "description": "The caller may not do this (code forbidden): another user's job or listing, an operator route without operator rights, a read token on a route that is not GET, a token managing tokens, a certificate that is not a listed relay asserting a user, a relay asserting an operator, or (Unix socket) peer credentials that cannot be read.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "NotFound": {
        "description": "No such job, node, queue, image, file or token (code not_found).",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "Conflict": {
        "description": "Not in this state (code conflict): e.g. the job has already ended, is not running, is being moved.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "PayloadTooLarge": {
        "description": "The body is larger than 8 MiB (code payload_too_large).",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "Unavailable": {
        "description": "The job store could not record it (code unavailable); try again.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      },
      "Error": {
        "description": "Any other error (e.g. internal, 500), with the same body.",
        "content": {
          "application/json": {
            "schema": {
              "$ref": "#/components/schemas/ErrorResponse"
            }
          }
        }
      }
    },
    "schemas": {
      "ErrorResponse": {
        "type": "object",
        "description": "The body of every non-2xx response.",
        "required": [
          "error",
          "code"
        ],
        "properties": {
          "error": {
            "type": "string",
            "description": "One line saying what is wrong, for people."
          },
          "code": {
            "type": "string",
            "description": "What kind of error, for programs; it follows from the HTTP status: bad_request (400), unauthenticated (401), forbidden (403), not_found (404), method_not_allowed (405), conflict (409), payload_too_large (413), internal (500), unavailable (503).",
            "enum": [
              "bad_request",
              "unauthenticated",
              "forbidden",
              "not_found",
              "method_not_allowed",
              "conflict",
              "payload_too_large",
              "internal",
              "unavailable"
            ]
          }
        },
        "additionalProperties": true
      },
      "JobState": {
        "type": "string",
        "description": "Where a job is in its life: queued (waiting in an execution queue), held (waiting, never started until released), starting (placed on a node, its VM being created), running, suspended (its VM's vCPUs paused; it keeps its slots), saved (its VM's state saved to a file on a node, slots freed, until released), and the terminal states completed (the payload exited, any exit code), failed, cancelled.",
        "enum": [
          "queued",
          "held",
          "starting",
          "running",
          "suspended",
          "saved",
          "completed",
          "failed",
          "cancelled"
        ]
      },
      "DrainMode": {
        "type": "string",
        "description": "How a drained node is emptied: finish (running jobs run to their end), save (their VMs are saved and resume elsewhere), migrate (their VMs migrate live to other nodes), requeue (they are stopped and run again from the start).",
        "enum": [
          "finish",
          "save",
          "migrate",
          "requeue"
        ]
      },
      "TokenScope": {
        "type": "string",
        "description": "What a bearer token lets its holder do: read (GET routes only, seeing what its user sees), user (everything its user may do through the socket), operator (everything; only operators get one).",
        "enum": [
          "read",
          "user",
          "operator"
        ]
      },
      "AccountingGrouping": {
        "type": "string",
        "description": "What accounting records can be summed by.",
        "enum": [
          "vo",
          "user",
          "queue",
          "environment",
          "node"
        ]
      },
      "SubmitRequest": {
        "type": "object",
        "description": "A job submission: one script, run `count` times. The daemon also refuses (400) what its queues refuse: an unknown queue, an environment, size or walltime the queue does not allow, a full queue, a VO not admitted.",
        "required": [
          "queue",
          "script",
          "arguments",
          "variables",
          "count",
          "held"
        ],
        "properties": {
          "name": {
            "type": "string",
            "description": "The job's name (default `job`): 1 to 128 letters, digits and `._+-@=,:`, starting with a letter or digit.",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._+=,:@-]*$"
          },
          "queue": {
            "type": "string",
            "description": "The queue to submit to (an execution or a routing queue): at most 64 letters, digits and `._+-@=,:`, starting with a letter or digit.",
            "minLength": 1,
            "maxLength": 64,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._+=,:@-]*$"
          },
          "cores": {
            "type": "integer",
            "format": "int64",
            "description": "Cores (vCPUs) of the job's VM; default: the queue's.",
            "minimum": 1,
            "maximum": 1024
          },
          "memoryMB": {
            "type": "integer",
            "format": "int64",
            "description": "Memory of the job's VM in MiB; default: the queue's.",
            "minimum": 1,
            "maximum": 67108864
          },
          "walltime": {
            "type": "integer",
            "format": "int64",
            "description": "Walltime in seconds; default: the queue's.",
            "minimum": 1,
            "maximum": 31622400
          },
          "environment": {
            "type": "string",
            "description": "The execution environment (image) to run in; default: the queue's first: at most 64 letters, digits and `._+-@=,:`, starting with a letter or digit.",
            "minLength": 1,
            "maxLength": 64,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._+=,:@-]*$"
          },
          "script": {
            "type": "string",
            "description": "The payload: a script run inside the VM. Not empty, at most 1 MiB (1048576 bytes of UTF-8), no NUL byte.",
            "minLength": 1,
            "maxLength": 1048576,
            "pattern": "^[^\\u0000]*$"
          },
          "arguments": {
            "type": "array",
            "description": "The script's arguments: at most 1024, together at most 65536 bytes of UTF-8, none with a NUL byte.",
            "items": {
              "type": "string",
              "pattern": "^[^\\u0000]*$"
            },
            "maxItems": 1024
          },
          "variables": {
            "type": "object",
            "description": "Environment variables for the payload: at most 1024; names are 1 to 128 letters, digits and `_`, not starting with a digit; values have no NUL byte; names and values together at most 65536 bytes of UTF-8.",
            "maxProperties": 1024,
            "additionalProperties": {
              "type": "string",
              "pattern": "^[^\\u0000]*$"
            }
          },
          "count": {
            "type": "integer",
            "format": "int64",
            "description": "How many times to run the script (an array submit, one transaction).",
            "minimum": 1,
            "maximum": 100000
          },
          "held": {
            "type": "boolean",
            "description": "Submit in the held state."
          }
        }
      },
      "SubmitResponse": {
        "type": "object",
        "required": [
          "ids",
          "queue"
        ],
        "properties": {
          "ids": {
            "type": "array",
            "description": "The new job ids, in order; acknowledged only once durable.",
            "items": {
              "type": "integer",
              "format": "int64",
              "minimum": 1
            }
          },
          "queue": {
            "type": "string",
            "description": "The execution queue the jobs were routed to."
          }
        },
        "additionalProperties": true
      },
      "JobInfo": {
        "type": "object",
        "description": "A job as the daemon reports it. Optional fields are omitted, never null.",
        "required": [
          "id",
          "name",
          "owner",
          "submitQueue",
          "queue",
          "environment",
          "cores",
          "memoryMB",
          "walltime",
          "state",
          "submitTime"
        ],
        "properties": {
          "id": {
            "type": "integer",
            "format": "int64",
            "minimum": 1
          },
          "name": {
            "type": "string"
          },
          "owner": {
            "type": "string",
            "description": "The user who submitted it."
          },
          "vo": {
            "type": "string",
            "description": "The owner's VO; omitted for a local user."
          },
          "submitQueue": {
            "type": "string",
            "description": "The queue named at submit (may be a routing queue)."
          },
          "queue": {
            "type": "string",
            "description": "The execution queue that holds the job."
          },
          "environment": {
            "type": "string"
          },
          "cores": {
            "type": "integer",
            "format": "int64"
          },
          "memoryMB": {
            "type": "integer",
            "format": "int64"
          },
          "walltime": {
            "type": "integer",
            "format": "int64",
            "description": "Seconds."
          },
          "state": {
            "$ref": "#/components/schemas/JobState"
          },
          "submitTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "startTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds; omitted until it is placed on a node."
          },
          "endTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds; omitted until it ends."
          },
          "node": {
            "type": "string",
            "description": "The node it runs on; omitted while it has none."
          },
          "cpus": {
            "type": "array",
            "description": "Host CPUs it is pinned to; omitted while it has none.",
            "items": {
              "type": "integer",
              "format": "int64"
            }
          },
          "exitCode": {
            "type": "integer",
            "format": "int64",
            "description": "The payload's exit code; omitted unless it exited."
          },
          "reason": {
            "type": "string",
            "description": "Why the job is in its state (its last transition's reason)."
          },
          "cpuTime": {
            "type": "number",
            "format": "double",
            "description": "CPU seconds of its VM as the hypervisor measured them; omitted until known."
          },
          "savedNode": {
            "type": "string",
            "description": "The node holding its saved VM, while it is saved or waits to be restored."
          },
          "pausedSeconds": {
            "type": "number",
            "format": "double",
            "description": "Seconds it spent suspended or saved (not counted against its walltime); omitted when none."
          }
        },
        "additionalProperties": true
      },
      "JobEvent": {
        "type": "object",
        "description": "One recorded state transition.",
        "required": [
          "time",
          "state",
          "reason"
        ],
        "properties": {
          "time": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "state": {
            "$ref": "#/components/schemas/JobState"
          },
          "reason": {
            "type": "string"
          }
        },
        "additionalProperties": true
      },
      "JobDetail": {
        "type": "object",
        "required": [
          "job",
          "history"
        ],
        "properties": {
          "job": {
            "$ref": "#/components/schemas/JobInfo"
          },
          "history": {
            "type": "array",
            "description": "Its transitions, oldest first.",
            "items": {
              "$ref": "#/components/schemas/JobEvent"
            }
          },
          "waiting": {
            "type": "string",
            "description": "For a waiting job: why it has not started."
          },
          "node": {
            "type": "string",
            "description": "For a job whose node cannot be reached: that it keeps its slots, and until when."
          }
        },
        "additionalProperties": true
      },
      "JobOutput": {
        "type": "object",
        "description": "What a job left behind: its streams, exit code and output files.",
        "required": [
          "id",
          "state",
          "stdout",
          "stderr",
          "files",
          "spoolDirectory"
        ],
        "properties": {
          "id": {
            "type": "integer",
            "format": "int64",
            "minimum": 1
          },
          "state": {
            "$ref": "#/components/schemas/JobState"
          },
          "exitCode": {
            "type": "integer",
            "format": "int64",
            "description": "Omitted unless the payload exited."
          },
          "stdout": {
            "type": "string",
            "description": "The payload's standard output (its last 8 MiB, with a note if cut)."
          },
          "stderr": {
            "type": "string",
            "description": "The payload's standard error (its last 8 MiB, with a note if cut)."
          },
          "files": {
            "type": "array",
            "description": "Files the payload left in `$VBATCH_OUTPUT`, as `output/...` paths, sorted; fetch one with GET /v1/jobs/{id}/files?path=...",
            "items": {
              "type": "string"
            }
          },
          "spoolDirectory": {
            "type": "string",
            "description": "Where they are on the daemon's host."
          }
        },
        "additionalProperties": true
      },
      "QueueInfo": {
        "type": "object",
        "description": "A queue. Limits that do not apply are omitted.",
        "required": [
          "name",
          "kind",
          "description",
          "enabled",
          "started",
          "queued",
          "running"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "kind": {
            "type": "string",
            "enum": [
              "routing",
              "execution"
            ]
          },
          "description": {
            "type": "string"
          },
          "enabled": {
            "type": "boolean",
            "description": "Accepts new submissions."
          },
          "started": {
            "type": "boolean",
            "description": "Starts its waiting jobs (always true for a routing queue)."
          },
          "priority": {
            "type": "integer",
            "format": "int64",
            "description": "Execution queues only."
          },
          "destinations": {
            "type": "array",
            "description": "Routing queues only: the queues it routes to.",
            "items": {
              "type": "string"
            }
          },
          "environments": {
            "type": "array",
            "description": "Execution queues only.",
            "items": {
              "type": "string"
            }
          },
          "walltimeMax": {
            "type": "integer",
            "format": "int64",
            "description": "Seconds; execution queues only, omitted when unlimited."
          },
          "walltimeDefault": {
            "type": "integer",
            "format": "int64",
            "description": "Seconds."
          },
          "maxCores": {
            "type": "integer",
            "format": "int64"
          },
          "maxMemoryMB": {
            "type": "integer",
            "format": "int64"
          },
          "vos": {
            "type": "array",
            "description": "VOs admitted; omitted when every VO is.",
            "items": {
              "type": "string"
            }
          },
          "nodes": {
            "type": "array",
            "description": "Nodes it runs on; omitted when every node.",
            "items": {
              "type": "string"
            }
          },
          "maxJobsPerNode": {
            "type": "integer",
            "format": "int64"
          },
          "maxRunning": {
            "type": "integer",
            "format": "int64"
          },
          "maxQueued": {
            "type": "integer",
            "format": "int64"
          },
          "maxRunningPerUser": {
            "type": "integer",
            "format": "int64"
          },
          "queued": {
            "type": "integer",
            "format": "int64",
            "description": "Waiting jobs, held ones included (0 for a routing queue)."
          },
          "held": {
            "type": "integer",
            "format": "int64",
            "description": "Of the waiting jobs, those held; execution queues only."
          },
          "running": {
            "type": "integer",
            "format": "int64"
          },
          "note": {
            "type": "string",
            "description": "Who disabled or stopped it at run time, and why."
          }
        },
        "additionalProperties": true
      },
      "PoolInfo": {
        "type": "object",
        "description": "A pool's pre-booted VMs on one node.",
        "required": [
          "name",
          "environment",
          "size",
          "idle",
          "booting"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "environment": {
            "type": "string"
          },
          "size": {
            "type": "integer",
            "format": "int64",
            "description": "Idle VMs the pool keeps on the node."
          },
          "idle": {
            "type": "integer",
            "format": "int64"
          },
          "booting": {
            "type": "integer",
            "format": "int64"
          }
        },
        "additionalProperties": true
      },
      "NodeCacheInfo": {
        "type": "object",
        "description": "A node's image cache (libvirt nodes).",
        "required": [
          "images",
          "bytes",
          "capBytes",
          "uploads",
          "transfers"
        ],
        "properties": {
          "images": {
            "type": "array",
            "description": "Catalogue files it holds, by name.",
            "items": {
              "type": "string"
            }
          },
          "bytes": {
            "type": "integer",
            "minimum": 0
          },
          "capBytes": {
            "type": "integer",
            "minimum": 0
          },
          "uploads": {
            "type": "integer",
            "format": "int64",
            "description": "Files uploaded to it since vbatchd started."
          },
          "transfers": {
            "type": "array",
            "description": "Uploads under way.",
            "items": {
              "type": "string"
            }
          }
        },
        "additionalProperties": true
      },
      "NodeInfo": {
        "type": "object",
        "description": "A node.",
        "required": [
          "name",
          "uri",
          "slots",
          "freeSlots",
          "memoryMB",
          "freeMemoryMB",
          "enabled",
          "jobs",
          "pools",
          "link",
          "fenced"
        ],
        "properties": {
          "name": {
            "type": "string"
          },
          "uri": {
            "type": "string"
          },
          "slots": {
            "type": "integer",
            "format": "int64"
          },
          "freeSlots": {
            "type": "integer",
            "format": "int64"
          },
          "memoryMB": {
            "type": "integer",
            "format": "int64"
          },
          "freeMemoryMB": {
            "type": "integer",
            "format": "int64"
          },
          "enabled": {
            "type": "boolean",
            "description": "Takes new jobs (not drained, not taken out after start failures)."
          },
          "environments": {
            "type": "array",
            "description": "Environments it offers; omitted when every one.",
            "items": {
              "type": "string"
            }
          },
          "jobs": {
            "type": "array",
            "description": "Jobs holding slots on it.",
            "items": {
              "type": "integer",
              "format": "int64",
              "minimum": 1
            }
          },
          "note": {
            "type": "string",
            "description": "Why it is out of service, and a drain's progress."
          },
          "pools": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/PoolInfo"
            }
          },
          "link": {
            "type": "string",
            "description": "Whether vbatchd reaches it.",
            "enum": [
              "connecting",
              "up",
              "unreachable"
            ]
          },
          "fenced": {
            "type": "boolean",
            "description": "An operator declared its VMs gone; it takes no job until resumed."
          },
          "cache": {
            "$ref": "#/components/schemas/NodeCacheInfo"
          }
        },
        "additionalProperties": true
      },
      "NodeStateRequest": {
        "type": "object",
        "description": "Drain a node or put it back (operators).",
        "required": [
          "enabled"
        ],
        "properties": {
          "enabled": {
            "type": "boolean",
            "description": "false drains the node (no new job starts there; its running jobs leave as `mode` says); true puts it back in service, which also clears a fence."
          },
          "reason": {
            "type": "string",
            "description": "Why; one line without control characters, at most 500 bytes of UTF-8.",
            "maxLength": 500,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
          },
          "mode": {
            "allOf": [
              {
                "$ref": "#/components/schemas/DrainMode"
              }
            ],
            "description": "How a drain empties the node (default finish); only with enabled false."
          }
        }
      },
      "NodeFenceRequest": {
        "type": "object",
        "description": "Declare a node's VMs gone (operators): its jobs are requeued or failed at once.",
        "required": [
          "reason"
        ],
        "properties": {
          "reason": {
            "type": "string",
            "description": "Why the node is fenced: not empty, one line without control characters, at most 500 bytes of UTF-8.",
            "minLength": 1,
            "maxLength": 500,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
          }
        }
      },
      "QueueStateRequest": {
        "type": "object",
        "description": "Enable, disable, start or stop a queue (operators); an absent flag is left as it is, and at least one of enabled and started is required.",
        "properties": {
          "enabled": {
            "type": "boolean",
            "description": "Accept (true) or refuse (false) new submissions."
          },
          "started": {
            "type": "boolean",
            "description": "Start (true) or hold back (false) its waiting jobs; execution queues only."
          },
          "reason": {
            "type": "string",
            "description": "Why; one line without control characters, at most 500 bytes of UTF-8.",
            "maxLength": 500,
            "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
          }
        },
        "anyOf": [
          {
            "required": [
              "enabled"
            ]
          },
          {
            "required": [
              "started"
            ]
          }
        ]
      },
      "ImagePushRequest": {
        "type": "object",
        "description": "Copy an image's files into nodes' image caches ahead of jobs (operators).",
        "properties": {
          "nodes": {
            "type": "array",
            "description": "The nodes to copy the image to; omitted: every node that may run it.",
            "items": {
              "type": "string"
            }
          }
        }
      },
      "ImagePushResult": {
        "type": "object",
        "description": "What a push did on one node.",
        "required": [
          "node",
          "uploadedBytes",
          "seconds"
        ],
        "properties": {
          "node": {
            "type": "string"
          },
          "uploadedBytes": {
            "type": "integer",
            "description": "0: the node had every file already.",
            "minimum": 0
          },
          "seconds": {
            "type": "number",
            "format": "double"
          },
          "error": {
            "type": "string",
            "description": "Why the node did not get the image, if it did not."
          }
        },
        "additionalProperties": true
      },
      "ConfigResponse": {
        "type": "object",
        "description": "The running configuration.",
        "required": [
          "settings"
        ],
        "properties": {
          "directory": {
            "type": "string",
            "description": "The configuration directory (absolute); origins inside it are relative to it. Absent when the configuration was not read from files."
          },
          "settings": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ConfigSetting"
            }
          }
        },
        "additionalProperties": true
      },
      "ConfigSetting": {
        "type": "object",
        "description": "One key of the configuration.",
        "required": [
          "key",
          "value"
        ],
        "properties": {
          "key": {
            "type": "string",
            "description": "The dotted TOML key, e.g. queue.one-way.walltime_max."
          },
          "value": {
            "type": "string",
            "description": "The value in TOML syntax (\"10h\", 4, true, [\"atlas\"]), or (unset) for an optional key neither written nor defaulted."
          },
          "origin": {
            "type": "string",
            "description": "file:line the key was written on; absent for a default."
          }
        },
        "additionalProperties": true
      },
      "ReloadResponse": {
        "type": "object",
        "description": "The configuration files were read again without errors and the daemon restarts its services on them; running jobs keep running.",
        "required": [
          "message"
        ],
        "properties": {
          "message": {
            "type": "string"
          }
        },
        "additionalProperties": true
      },
      "WhoAmI": {
        "type": "object",
        "description": "Who the daemon takes the caller to be.",
        "required": [
          "user",
          "uid",
          "isOperator"
        ],
        "properties": {
          "user": {
            "type": "string"
          },
          "uid": {
            "type": "integer",
            "format": "int64"
          },
          "vo": {
            "type": "string",
            "description": "Omitted for a local user."
          },
          "isOperator": {
            "type": "boolean"
          },
          "via": {
            "type": "string",
            "description": "How the identity was established: `socket`, `relay NAME` (the relay certificate's common name) or `token ID (SCOPE)`."
          }
        },
        "additionalProperties": true
      },
      "DiagnosticsTally": {
        "type": "object",
        "description": "Count, failures and durations (seconds) of one kind of call.",
        "required": [
          "count",
          "failures",
          "totalSeconds",
          "maxSeconds",
          "lastSeconds"
        ],
        "properties": {
          "count": {
            "type": "integer"
          },
          "failures": {
            "type": "integer",
            "description": "API: answers of 500 or more; libvirt: calls that failed or timed out; 0 for cycles and commits."
          },
          "totalSeconds": {
            "type": "number"
          },
          "maxSeconds": {
            "type": "number"
          },
          "lastSeconds": {
            "type": "number"
          }
        },
        "additionalProperties": true
      },
      "Diagnostics": {
        "type": "object",
        "description": "Since-start figures of vbatchd (vbatch diag).",
        "required": [
          "started",
          "reported",
          "cycles",
          "placements",
          "backfillStarts",
          "preemptions",
          "commits",
          "api",
          "libvirt",
          "connected",
          "pending",
          "running"
        ],
        "properties": {
          "started": {
            "type": "number",
            "description": "When this vbatchd (or its last reload) started."
          },
          "reported": {
            "type": "number",
            "description": "When this report was made."
          },
          "cycles": {
            "$ref": "#/components/schemas/DiagnosticsTally"
          },
          "lastCycle": {
            "type": "number",
            "description": "When the last scheduling cycle finished; omitted before the first."
          },
          "placements": {
            "type": "integer",
            "description": "Jobs placed by scheduling cycles."
          },
          "backfillStarts": {
            "type": "integer",
            "description": "Placements made by backfill ahead of the reserved job."
          },
          "preemptions": {
            "type": "integer"
          },
          "commits": {
            "$ref": "#/components/schemas/DiagnosticsTally"
          },
          "api": {
            "type": "object",
            "description": "API requests by `METHOD /route/template`.",
            "additionalProperties": {
              "$ref": "#/components/schemas/DiagnosticsTally"
            }
          },
          "libvirt": {
            "type": "object",
            "description": "Libvirt calls by worker node (none on simulated nodes).",
            "additionalProperties": {
              "$ref": "#/components/schemas/DiagnosticsTally"
            }
          },
          "connected": {
            "type": "object",
            "description": "Whether each worker node's libvirt connection is up now.",
            "additionalProperties": {
              "type": "boolean"
            }
          },
          "pending": {
            "type": "integer",
            "description": "Jobs waiting now."
          },
          "running": {
            "type": "integer",
            "description": "Jobs running now."
          }
        },
        "additionalProperties": true
      },
      "AccountingRecord": {
        "type": "object",
        "description": "What one finished job used.",
        "required": [
          "jobID",
          "name",
          "owner",
          "uid",
          "submitQueue",
          "queue",
          "environment",
          "cores",
          "memoryMB",
          "walltimeLimit",
          "submitTime",
          "endTime",
          "wallSeconds",
          "cpuSeconds",
          "state",
          "reason"
        ],
        "properties": {
          "jobID": {
            "type": "integer",
            "format": "int64",
            "minimum": 1
          },
          "name": {
            "type": "string"
          },
          "owner": {
            "type": "string"
          },
          "uid": {
            "type": "integer",
            "format": "int64"
          },
          "vo": {
            "type": "string",
            "description": "Omitted for a local user."
          },
          "submitQueue": {
            "type": "string"
          },
          "queue": {
            "type": "string"
          },
          "environment": {
            "type": "string"
          },
          "node": {
            "type": "string",
            "description": "The node that ran it; omitted for a job that ended before it was placed."
          },
          "cores": {
            "type": "integer",
            "format": "int64"
          },
          "memoryMB": {
            "type": "integer",
            "format": "int64"
          },
          "walltimeLimit": {
            "type": "integer",
            "format": "int64",
            "description": "The walltime it asked for, in seconds."
          },
          "submitTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "startTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds; omitted if it never started."
          },
          "endTime": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "wallSeconds": {
            "type": "number",
            "format": "double"
          },
          "cpuSeconds": {
            "type": "number",
            "format": "double"
          },
          "maxRSSKiB": {
            "type": "integer",
            "format": "int64",
            "description": "Largest resident memory of its VM's QEMU process, if reported."
          },
          "state": {
            "$ref": "#/components/schemas/JobState"
          },
          "exitCode": {
            "type": "integer",
            "format": "int64"
          },
          "reason": {
            "type": "string"
          },
          "gridSubject": {
            "type": "string",
            "description": "The grid identity (X.509 subject) the CE gave the job, if any."
          }
        },
        "additionalProperties": true
      },
      "AccountingReport": {
        "type": "object",
        "description": "The accounting records of a period, with the site identity an APEL export needs.",
        "required": [
          "since",
          "until",
          "records",
          "site",
          "submitHost",
          "machineName",
          "infrastructure"
        ],
        "properties": {
          "since": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "until": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "records": {
            "type": "array",
            "description": "Records of jobs that ended in [since, until), oldest first.",
            "items": {
              "$ref": "#/components/schemas/AccountingRecord"
            }
          },
          "site": {
            "type": "string",
            "description": "APEL Site."
          },
          "submitHost": {
            "type": "string",
            "description": "APEL SubmitHost."
          },
          "machineName": {
            "type": "string",
            "description": "APEL MachineName."
          },
          "benchmarkType": {
            "type": "string"
          },
          "benchmark": {
            "type": "number",
            "format": "double"
          },
          "infrastructure": {
            "type": "string"
          }
        },
        "additionalProperties": true
      },
      "AccountingSummaryRow": {
        "type": "object",
        "description": "The totals of one group.",
        "required": [
          "key",
          "jobs",
          "completed",
          "failed",
          "cancelled",
          "wallSeconds",
          "coreSeconds",
          "cpuSeconds"
        ],
        "properties": {
          "key": {
            "type": "string",
            "description": "The group's value (`-` for records without one); `total` in the total row."
          },
          "jobs": {
            "type": "integer",
            "format": "int64"
          },
          "completed": {
            "type": "integer",
            "format": "int64"
          },
          "failed": {
            "type": "integer",
            "format": "int64"
          },
          "cancelled": {
            "type": "integer",
            "format": "int64"
          },
          "wallSeconds": {
            "type": "number",
            "format": "double"
          },
          "coreSeconds": {
            "type": "number",
            "format": "double",
            "description": "Sum of cores x wall seconds."
          },
          "cpuSeconds": {
            "type": "number",
            "format": "double"
          }
        },
        "additionalProperties": true
      },
      "AccountingSummary": {
        "type": "object",
        "description": "Accounting totals grouped by one attribute.",
        "required": [
          "grouping",
          "rows",
          "total"
        ],
        "properties": {
          "grouping": {
            "$ref": "#/components/schemas/AccountingGrouping"
          },
          "rows": {
            "type": "array",
            "description": "One row per group, sorted by key.",
            "items": {
              "$ref": "#/components/schemas/AccountingSummaryRow"
            }
          },
          "total": {
            "$ref": "#/components/schemas/AccountingSummaryRow"
          }
        },
        "additionalProperties": true
      },
      "TokenRequest": {
        "type": "object",
        "description": "A bearer token to create.",
        "required": [
          "scope",
          "lifetime"
        ],
        "properties": {
          "scope": {
            "$ref": "#/components/schemas/TokenScope"
          },
          "lifetime": {
            "type": "integer",
            "format": "int64",
            "description": "Seconds until it expires; at most the site's max_token_lifetime (default 30 days) for read and user tokens, max_operator_token_lifetime (default 1 day) for operator tokens.",
            "minimum": 1
          },
          "user": {
            "type": "string",
            "description": "Whom it acts for (default: the caller); only operators may name another user. 1 to 128 letters, digits and `._+-@=,:`, starting with a letter or digit.",
            "minLength": 1,
            "maxLength": 128,
            "pattern": "^[A-Za-z0-9][A-Za-z0-9._+=,:@-]*$"
          },
          "name": {
            "type": "string",
            "description": "A label for listings: one line (no line break, no NUL) of at most 64 characters.",
            "maxLength": 64,
            "pattern": "^[^\\u0000\\n\\u000b\\u000c\\r\\u0085\\u2028\\u2029]*$"
          }
        }
      },
      "TokenInfo": {
        "type": "object",
        "description": "A bearer token, without its secret.",
        "required": [
          "id",
          "user",
          "scope",
          "createdBy",
          "created",
          "expires"
        ],
        "properties": {
          "id": {
            "type": "integer",
            "format": "int64",
            "minimum": 1
          },
          "user": {
            "type": "string",
            "description": "The user it acts as."
          },
          "scope": {
            "$ref": "#/components/schemas/TokenScope"
          },
          "name": {
            "type": "string",
            "description": "Its label; omitted when none."
          },
          "createdBy": {
            "type": "string"
          },
          "created": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "expires": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds."
          },
          "revoked": {
            "type": "number",
            "format": "double",
            "description": "Unix seconds; omitted unless revoked."
          }
        },
        "additionalProperties": true
      },
      "TokenCreated": {
        "type": "object",
        "required": [
          "token",
          "info"
        ],
        "properties": {
          "token": {
            "type": "string",
            "description": "The secret, shown this once: send it as `Authorization: Bearer TOKEN`."
          },
          "info": {
            "$ref": "#/components/schemas/TokenInfo"
          }
        },
        "additionalProperties": true
      }
    }
  }
}
"""#
}
