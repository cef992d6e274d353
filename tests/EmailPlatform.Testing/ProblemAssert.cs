using System.Net;
using System.Text.Json;
using Xunit;

namespace EmailPlatform.Testing;

/// <summary>
/// What every error answer must be (WIRE.md): <c>application/problem+json</c> with the RFC 9457 members, <c>errors</c>
/// (an object, empty when the error is not about a field) and the members Resend's clients read (<c>name</c>,
/// <c>message</c>, <c>statusCode</c>).
/// </summary>
public static class ProblemAssert
{
    public const string TypeBase = "https://emailplatform.dev/problems/";

    /// <returns>The problem's JSON, to assert more on (<c>errors</c>, <c>detail</c>).</returns>
    public static async Task<JsonElement> IsProblemAsync(HttpResponseMessage response, HttpStatusCode status, string name)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        using var json = JsonDocument.Parse(body);
        var problem = json.RootElement.Clone();
        Assert.Equal(TypeBase + name, problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("title").GetString()), "title is empty");
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Equal(name, problem.GetProperty("name").GetString());
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("message").GetString()), "message is empty");
        Assert.Equal((int)status, problem.GetProperty("statusCode").GetInt32());
        Assert.True(problem.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object, $"errors is not an object: {body}");
        return problem;
    }

    /// <summary>A problem about the request (not the route): also carries a <c>detail</c>.</summary>
    public static async Task<JsonElement> IsDetailedProblemAsync(HttpResponseMessage response, HttpStatusCode status, string name)
    {
        var problem = await IsProblemAsync(response, status, name);
        var detail = problem.GetProperty("detail").GetString();
        Assert.False(string.IsNullOrWhiteSpace(detail), "detail is empty");
        Assert.Equal(detail, problem.GetProperty("message").GetString());
        return problem;
    }

    /// <summary>A validation problem naming <paramref name="field"/> in <c>errors</c>.</summary>
    public static async Task<JsonElement> IsValidationProblemAsync(HttpResponseMessage response, string name, string field)
    {
        var problem = await IsDetailedProblemAsync(response, HttpStatusCode.BadRequest, name);
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out var messages), $"errors has no '{field}': {errors}");
        Assert.NotEmpty(messages.EnumerateArray());
        return problem;
    }
}
