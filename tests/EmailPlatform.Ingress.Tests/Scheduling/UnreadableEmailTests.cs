using System.Net;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Ingress.Tests.Support;
using EmailPlatform.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EmailPlatform.Ingress.Tests.Scheduling;

/// <summary>
/// An email whose stored command cannot be read, parked by the publisher (never sent, <c>available_at</c> 9999-12-31): a
/// read answers from what can be read, and a cancel or reschedule, by HTTP or by the bulk cancel's
/// <see cref="CancelEmail"/>, is refused clearly. Each used to throw reading the payload: a 500, and a command retried
/// and then faulted.
/// </summary>
public sealed class UnreadableEmailTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private const string NotFound = """
        {"type": "https://emailplatform.dev/problems/not_found", "title": "Email not found.", "status": 404, "name": "not_found",
         "message": "No such email.", "errors": {}, "statusCode": 404}
        """;

    /// <summary>The command of a scheduled email in its own row, or an email accepted for now as its one row.</summary>
    [Theory]
    [InlineData("SendEmail")]
    [InlineData("AcceptedEmail")]
    public async Task AnEmailWhoseParkedCommandCannotBeReadIsReadWithoutItAndCannotBeCanceledOrRescheduled(string corrupted)
    {
        using var status = new StatusStandIn(_ => (404, NotFound));
        // No broker: the email stays in the outbox.
        var nowhere = new Uri($"amqp://guest:guest@127.0.0.1:{ServiceProcess.FreeTcpPort()}/");
        await using var app = await IngressApp.StartAsync(rabbitMq: nowhere, settings: new Dictionary<string, string?> { ["Ingress:StatusUrl"] = status.Url });
        using var client = app.CreateClient();
        var id = await AcceptAsync(app, corrupted == "SendEmail"
            ? SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O"))
            : SendBodies.Json());
        Assert.Equal(1, await ParkUnreadableAsync(app, id, corrupted));

        using var read = await client.GetAsync(new Uri($"/v1/emails/{id}", UriKind.Relative));
        if (corrupted == "SendEmail")
        {
            // Its accept can still be read.
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            using var email = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
            Assert.Equal(id, email.RootElement.GetProperty("id").GetGuid());
        }
        else
        {
            await ProblemAssert.IsProblemAsync(read, HttpStatusCode.NotFound, "not_found");
        }

        using var cancel = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        using var reschedule = await client.PatchAsync(new Uri($"/v1/emails/{id}", UriKind.Relative),
            new StringContent($$"""{"scheduled_at": "{{DateTimeOffset.UtcNow.AddHours(2):O}}"}""", Encoding.UTF8, "application/json"));
        foreach (var refused in new[] { cancel, reschedule })
        {
            var problem = await ProblemAssert.IsDetailedProblemAsync(refused, HttpStatusCode.Conflict, "validation_error");
            Assert.Contains("cannot be read", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var rows = (await app.OutboxRowsAsync()).Where(r => r.EmailId == id).ToList();
        Assert.Equal(new DateTime(9999, 12, 31, 0, 0, 0, DateTimeKind.Utc), rows.Single(r => r.MessageType == corrupted).AvailableAt);
        Assert.DoesNotContain(rows, r => r.MessageType is nameof(EmailCanceled) or nameof(EmailRescheduled));
    }

    /// <summary>The bulk cancel's command for such an email is handled once, as for an email that already left: not retried, not faulted.</summary>
    [Fact]
    public async Task ABulkCancelOfAnEmailWhoseParkedCommandCannotBeReadIsLoggedAndNeitherRetriedNorFaulted()
    {
        var logs = new LogCapture();
        await using var app = await IngressApp.StartAsync(services: s => s.AddSingleton<ILoggerProvider>(logs));
        var id = await AcceptAsync(app, SendBodies.Json(b => b["scheduled_at"] = DateTimeOffset.UtcNow.AddHours(1).ToString("O")));
        Assert.Equal(1, await ParkUnreadableAsync(app, id, nameof(SendEmail)));
        Assert.Equal(BusHealthStatus.Healthy, await app.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, Wait));

        await app.Services.GetRequiredService<IBus>().Publish(new CancelEmail(NewId.NextGuid(), id, DateTimeOffset.UtcNow));

        await Eventually.GetAsync(() => Task.FromResult(logs.Has(1200, $"{id}: Unreadable")), handled => handled, Wait, "the cancel to be handled");
        // Retries would have come within a second or so.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Single(logs.Entries, e => e.Id == 1200 && e.Message.Contains(id.ToString(), StringComparison.Ordinal));
        Assert.Equal(0u, await PutBackProbe.MessagesInAsync(app.RabbitMq!, "cancel-email_error"));
        Assert.DoesNotContain(await app.OutboxRowsAsync(), r => r.EmailId == id && r.MessageType == nameof(EmailCanceled));
    }

    /// <summary>Makes the email's row of <paramref name="type"/> unreadable and parks it, as the publisher does on reading it.</summary>
    private static Task<int> ParkUnreadableAsync(IngressApp app, Guid id, string type) => app.ExecuteSqlAsync($"""
        UPDATE outbox_messages SET payload = '{"{not json"}', available_at = '9999-12-31 00:00:00+00', publishing_until = NULL
        WHERE email_id = '{id}' AND message_type = '{type}' AND published_at IS NULL
        """);

    private static async Task<Guid> AcceptAsync(IngressApp app, System.Text.Json.Nodes.JsonObject body)
    {
        using var response = await app.PostEmailAsync(body.ToJsonString());
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetGuid();
    }
}
