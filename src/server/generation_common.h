// Pieces the chat and completions handlers share: ids, seeds and session ids, the model
// check, submitting a set of requests all-or-nothing, and Drain(), which consumes the
// events of several request streams while watching the client. Internal to src/server.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "engine/request.h"
#include "server/generation_handler.h"
#include "server/server_context.h"

namespace parley {

// "chatcmpl-" + 24 hex digits, unique per process.
std::string NewResponseId(const char* prefix);
// A fresh seed for requests that did not give one (OpenAI samples differently each call).
uint64_t RandomSeed();
// X-Session-Id header, else the body's `user`.
std::string SessionId(const httplib::Request& req, const std::string& user);
// The body's `user` if it is a string, else "" (for the access log of rejected requests).
std::string BodyUser(const nlohmann::json& body);
// Token id -> its bytes, special tokens with their text (for logprob entries).
TokenTextFn TokenTexts(const Tokenizer& tokenizer);

// False (and a 404 model_not_found in `res`) when `model` is set and is not the served one.
bool CheckModel(const ServerContext& ctx, const std::string& model, httplib::Response& res);

// Fills the session, and a random seed where the client gave none.
void PrepareRequest(const httplib::Request& req, const GenerationFields& fields,
                    GenerationRequest* out);

// Submits every request with its n choices: request i's choice j gets stream i * n + j. On
// the first failure cancels those already queued, writes the error (400 / 503) to `res`
// and returns false. Errors about the prompt name `prompt_param` ("prompt", or "messages"
// for chat); a prompt longer than the context carries OpenAI's code
// "context_length_exceeded".
bool SubmitAll(ServerContext* ctx, std::vector<GenerationRequest> requests,
               std::vector<std::shared_ptr<RequestStream>>* streams, httplib::Response& res,
               const char* prompt_param = "prompt");

// Adds a finished choice's usage to a response's total: every choice's completion tokens,
// but a prompt's tokens (and cached tokens) once, from the choice that `counts_prompt`
// (its first): OpenAI counts a prompt once however many choices continue it.
void AddUsage(const Usage& choice, bool counts_prompt, Usage* total);

// The error for a stream that ended with kError / kCancelled: 503 while shutting down.
ApiError FinalError(const ServerContext& ctx, const EngineEvent& final_event);

// Consumes every stream's events until each has sent its final one, calling
// on_event(stream index, event) in order per stream. `client_alive` is asked about every
// 100 ms. Returns false, after cancelling every stream, when the client went away or
// on_event returned false (a write failed).
bool Drain(const std::vector<std::shared_ptr<RequestStream>>& streams,
           const std::function<bool()>& client_alive,
           const std::function<bool(size_t, EngineEvent&)>& on_event);

// Client liveness for a non-streaming request: false once its connection is closed.
std::function<bool()> ConnectionAlive(const httplib::Request& req);

// Records the totals of a finished request for its access-log line.
void LogUsage(const Usage& usage);

}  // namespace parley
