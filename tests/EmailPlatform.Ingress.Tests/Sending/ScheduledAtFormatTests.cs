using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>
/// <c>scheduled_at</c> and <c>expires_at</c> are read in ISO 8601's forms only: a culture's form, whose day and month
/// order is a guess, is refused naming the format, and every ISO form keeps its meaning.
/// </summary>
public sealed class ScheduledAtFormatTests
{
    /// <summary>Two days ahead, to the second: within every limit, and shown in each form below.</summary>
    private static readonly DateTimeOffset At = ToTheSecond(DateTimeOffset.UtcNow.AddDays(2));

    [Theory]
    [InlineData("MM/dd/yyyy HH:mm")]
    [InlineData("dd/MM/yyyy HH:mm")]
    [InlineData("yyyy/MM/dd HH:mm")]
    [InlineData("r")]
    [InlineData("MMMM d, yyyy HH:mm")]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss' Z'")]
    [InlineData("' 'yyyy-MM-dd'T'HH:mm:ss'Z'")]
    public void ADateInAFormOtherThanIso8601IsRefusedNamingTheFormat(string format)
    {
        var value = At.ToString(format, CultureInfo.InvariantCulture);

        foreach (var field in new[] { "scheduled_at", "expires_at" })
        {
            var request = field == "scheduled_at" ? SendBodies.Minimal() with { ScheduledAt = value } : SendBodies.Minimal() with { ExpiresAt = value };
            var message = Assert.Single(SendEmailValidatorTests.AssertInvalid(SendEmailValidator.Validate(request, SendBodies.Limits), "validation_error", field));
            Assert.Contains("ISO 8601", message, StringComparison.Ordinal);
            Assert.Contains("YYYY-MM-DDTHH:MM", message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss'Z'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss'.000000000Z'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss',5Z'", 500)]
    [InlineData("yyyy-MM-dd'T'HH:mm'Z'", -1)]
    [InlineData("yyyy-MM-dd HH:mm:ss'Z'", 0)]
    [InlineData("yyyy-MM-dd't'HH:mm:ss'z'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss'+00:00'", 0)]
    [InlineData("yyyy-MM-dd'T'HH:mm:ss'-00:00'", 0)]
    [InlineData("O", 0)]
    public void EveryIso8601FormIsReadAsTheSameInstant(string format, int milliseconds)
    {
        var value = At.ToString(format, CultureInfo.InvariantCulture);
        var expected = milliseconds < 0 ? At.AddSeconds(-At.Second) : At.AddMilliseconds(milliseconds);

        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { ScheduledAt = value }, SendBodies.Limits);

        Assert.True(result.Email is not null, $"{value}: {string.Join("; ", result.Errors.SelectMany(e => e.Value))}");
        Assert.Equal(expected, result.Email.ScheduledAt);
    }

    [Theory]
    [InlineData("+02:00", 120)]
    [InlineData("+0200", 120)]
    [InlineData("+02", 120)]
    [InlineData("-05:30", -330)]
    public void AnIsoOffsetIsApplied(string offset, int minutes)
    {
        var value = At.ToOffset(TimeSpan.FromMinutes(minutes)).ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + offset;

        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { ScheduledAt = value }, SendBodies.Limits);

        Assert.True(result.Email is not null, $"{value}: {string.Join("; ", result.Errors.SelectMany(e => e.Value))}");
        Assert.Equal(At, result.Email.ScheduledAt);
    }

    [Fact]
    public async Task ARescheduleInAFormOtherThanIso8601IsRefusedNamingTheFormatAndChangesNothing()
    {
        await using var app = await IngressApp.StartAsync();
        using var client = app.CreateClient();
        var scheduledAt = DateTimeOffset.UtcNow.AddHours(1);
        using var accepted = await app.PostEmailAsync(SendBodies.Json(b => b["scheduled_at"] = scheduledAt.ToString("O")).ToJsonString());
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var id = JsonDocument.Parse(await accepted.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetGuid();
        var usStyle = At.ToString("MM/dd/yyyy HH:mm", CultureInfo.InvariantCulture);

        using var response = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{usStyle}}"}""", Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsValidationProblemAsync(response, "validation_error", "scheduled_at");
        Assert.Contains("ISO 8601", problem.GetProperty("errors").GetProperty("scheduled_at")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(scheduledAt.UtcDateTime, (await app.FindOutboxRowAsync(id))!.AvailableAt, TimeSpan.FromMilliseconds(1));
    }

    private static DateTimeOffset ToTheSecond(DateTimeOffset time) => new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}
