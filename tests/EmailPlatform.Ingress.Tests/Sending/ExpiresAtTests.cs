using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Ingress.Raw;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Raw;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary><c>expires_at</c>: the client's delivery deadline, checked like <c>scheduled_at</c> and carried to the worker.</summary>
public sealed class ExpiresAtTests
{
    [Theory]
    [InlineData("2001-01-01T00:00:00Z", null, "in the future")]
    [InlineData("2099-01-01T00:00:00Z", null, "at most 30 days ahead")]
    [InlineData("next tuesday", null, "ISO 8601")]
    [InlineData("+2h", "+3h", "after scheduled_at")]
    [InlineData("+3h", "+3h", "after scheduled_at")]
    public void ExpiresAtInThePastTooFarAheadUnparsableOrNotAfterScheduledAtIsRefused(string expiresAt, string? scheduledAt, string expected)
    {
        var result = SendEmailValidator.Validate(
            SendBodies.Minimal() with { ExpiresAt = Resolve(expiresAt), ScheduledAt = scheduledAt is null ? null : Resolve(scheduledAt) },
            SendBodies.Limits);

        var message = Assert.Single(SendEmailValidatorTests.AssertInvalid(result, "validation_error", "expires_at"));
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheBoundOnExpiresAtIsConfigurable()
    {
        var limits = SendLimits.From(new IngressOptions { MaxExpiresAhead = TimeSpan.FromHours(1) }, TimeProvider.System);

        var refused = SendEmailValidator.Validate(SendBodies.Minimal() with { ExpiresAt = Resolve("+2h") }, limits);
        var accepted = SendEmailValidator.Validate(SendBodies.Minimal() with { ExpiresAt = Resolve("+30m") }, limits);

        Assert.Contains("at most 1 hour ahead", Assert.Single(SendEmailValidatorTests.AssertInvalid(refused, "validation_error", "expires_at")), StringComparison.Ordinal);
        Assert.NotNull(accepted.Email);
    }

    [Fact]
    public async Task ExpiresAtReachesTheSendEmailCommandOfSingleBatchAndRawSends()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var expiresAt = DateTimeOffset.UtcNow.AddHours(6).ToOffset(TimeSpan.FromHours(2));
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);

        using var single = await app.PostEmailAsync(SendBodies.Json(b => b["expires_at"] = expiresAt.ToString("O")).ToJsonString());
        using var batch = await IngressApp.PostJsonAsync(client, "/v1/emails/batch", new JsonArray(
            SendBodies.Json(b => b["expires_at"] = expiresAt.ToString("O")), SendBodies.Json()).ToJsonString());
        var raw = JsonNode.Parse(RawEndpointTests.Body(RawEndpointTests.Message(), "billing@acme.test", "alice@example.test"))!;
        raw["expires_at"] = expiresAt.ToString("O");
        raw["scheduled_at"] = scheduledAt.ToString("O");
        using var rawResponse = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", raw.ToJsonString());

        Assert.Equal(expiresAt.UtcDateTime, (await CommandAsync(app, single)).ExpiresAt!.Value.UtcDateTime, TimeSpan.FromMilliseconds(1));
        var batchIds = await BatchIdsAsync(batch);
        Assert.Equal(expiresAt, (await app.FindOutboxRowAsync(batchIds[0]))!.Command.ExpiresAt);
        Assert.Null((await app.FindOutboxRowAsync(batchIds[1]))!.Command.ExpiresAt);
        Assert.Equal(expiresAt, (await CommandAsync(app, rawResponse)).ExpiresAt);
    }

    [Fact]
    public async Task ExpiresAtBeforeScheduledAtIsRefusedOnEveryPathAndNothingIsStored()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(2).ToString("O", CultureInfo.InvariantCulture);
        var expiresAt = DateTimeOffset.UtcNow.AddHours(1).ToString("O", CultureInfo.InvariantCulture);

        using var single = await app.PostEmailAsync(SendBodies.Json(b => { b["scheduled_at"] = scheduledAt; b["expires_at"] = expiresAt; }).ToJsonString());
        var raw = JsonNode.Parse(RawEndpointTests.Body(RawEndpointTests.Message(), "billing@acme.test", "alice@example.test"))!;
        raw["expires_at"] = "2001-01-01T00:00:00Z";
        using var rawResponse = await IngressApp.PostJsonAsync(client, "/v1/emails/raw", raw.ToJsonString());

        await ProblemAssert.IsValidationProblemAsync(single, "validation_error", "expires_at");
        await ProblemAssert.IsValidationProblemAsync(rawResponse, "validation_error", "expires_at");
        Assert.Equal(0, await app.CountOutboxAsync());
    }

    /// <summary>A literal value, or "+2h" / "+30m" from now.</summary>
    private static string Resolve(string value) => value switch
    {
        ['+', .. var rest] when rest.EndsWith('h') => DateTimeOffset.UtcNow.AddHours(int.Parse(rest[..^1], CultureInfo.InvariantCulture)).ToString("O", CultureInfo.InvariantCulture),
        ['+', .. var rest] when rest.EndsWith('m') => DateTimeOffset.UtcNow.AddMinutes(int.Parse(rest[..^1], CultureInfo.InvariantCulture)).ToString("O", CultureInfo.InvariantCulture),
        _ => value,
    };

    private static async Task<EmailPlatform.Contracts.SendEmail> CommandAsync(IngressApp app, HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        var entry = await app.FindOutboxRowAsync(JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid());
        Assert.NotNull(entry);
        return entry.Command;
    }

    private static async Task<List<Guid>> BatchIdsAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()).ToList();
    }
}
