// The two generation endpoints, POST /v1/chat/completions and POST /v1/completions: parse
// and validate, render and tokenize, submit to the engine, then answer with one JSON body
// or stream SSE chunks. A client that disconnects has its requests cancelled, so the
// engine frees their KV pages. Thread-safe: each call serves one HTTP request.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "server/openai_response.h"
#include "server/server_context.h"

namespace parley {

void HandleChatCompletions(ServerContext* ctx, const httplib::Request& req, httplib::Response& res);
void HandleCompletions(ServerContext* ctx, const httplib::Request& req, httplib::Response& res);

// Sets `res` to a JSON body with `status`.
void SendJson(httplib::Response& res, int status, const nlohmann::json& body);
// Sets `res` to an OpenAI error object with its HTTP status.
void SendError(httplib::Response& res, const ApiError& error);

}  // namespace parley
