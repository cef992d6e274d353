using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>The public API as a client calls it.</summary>
internal static class EmailApi
{
    public static async Task<string> SendAsync(HttpClient client, object email)
    {
        using var response = await client.PostAsJsonAsync("/v1/emails", email);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"Expected 202, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["id"]!.GetValue<string>();
    }

    public static async Task<JsonNode?> GetAsync(HttpClient client, string id)
    {
        using var response = await client.GetAsync(new Uri($"/v1/emails/{id}", UriKind.Relative));
        return response.StatusCode == HttpStatusCode.NotFound ? null : JsonNode.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls the status API until the email reaches a final state.</summary>
    public static Task<JsonNode?> WaitForFinalStateAsync(HttpClient client, string id, TimeSpan timeout) =>
        Eventually.GetAsync(
            () => GetAsync(client, id),
            email => email?["status"]?.GetValue<string>() is "delivered" or "bounced" or "failed" or "suppressed" or "canceled",
            timeout,
            $"email {id} to reach a final state");
}
