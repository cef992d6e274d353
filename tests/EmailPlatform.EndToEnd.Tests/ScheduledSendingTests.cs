using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using EmailPlatform.Testing;
using MimeKit;

namespace EmailPlatform.EndToEnd.Tests;

/// <summary>
/// <c>scheduled_at</c> in distributed mode: the email waits as <c>scheduled</c>, leaves at its time, dated that time, and
/// can be canceled (<c>POST /v1/emails/{id}/cancel</c>) or rescheduled (<c>PATCH /v1/emails/{id}</c>) until then.
/// </summary>
public sealed class ScheduledSendingTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ScheduledEmailWaitsAsScheduledAndArrivesAfterItsTime()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();
        // Far enough ahead that a loaded machine records it as scheduled in time (the check below says when it did not).
        var at = DateTimeOffset.UtcNow.AddSeconds(90);

        var id = await EmailApi.SendAsync(client, Email("Later", at));

        var scheduled = await platform.WithLogsAsync(() => Eventually.GetAsync(() => EmailApi.GetAsync(client, id), e => e is not null, Bounded, $"email {id} to be recorded"));
        Assert.True(DateTimeOffset.UtcNow < at, "the status took longer than the schedule to record the email; the test proves nothing");
        Assert.Equal("scheduled", scheduled!["status"]!.GetValue<string>());
        Assert.Equal("scheduled", scheduled["last_event"]!.GetValue<string>());
        Assert.Equal(at.UtcDateTime, DateTimeOffset.Parse(scheduled["scheduled_at"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).UtcDateTime, TimeSpan.FromMilliseconds(1));

        while (DateTimeOffset.UtcNow < at - TimeSpan.FromMilliseconds(200))
        {
            Assert.True(relay.Received.IsEmpty, $"the relay received the email before {at:O}");
            await Task.Delay(100);
        }

        await platform.WithLogsAsync(() => Eventually.GetAsync(() => Task.FromResult(relay.Received.Count), n => n > 0, Bounded, "the scheduled email at the relay"));
        var arrivedBy = DateTimeOffset.UtcNow;
        Assert.True(arrivedBy - at < TimeSpan.FromSeconds(60), $"due {at:O}, arrived by {arrivedBy:O}");
        var delivered = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, id, Bounded));
        Assert.True(delivered!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        // Dated its scheduled time (to the second, as the header has it), not its acceptance 90 s earlier.
        Assert.Equal(ToTheSecond(at), DateOf(Assert.Single(relay.Received)));

        // Once it was handed to delivery it can no longer be canceled or moved.
        using var cancel = await client.PostAsync(new Uri($"/v1/emails/{id}/cancel", UriKind.Relative), null);
        await ProblemAssert.IsDetailedProblemAsync(cancel, HttpStatusCode.Conflict, "validation_error");
        using var move = await client.PatchAsJsonAsync($"/v1/emails/{id}", new { scheduled_at = DateTimeOffset.UtcNow.AddHours(1) });
        Assert.Equal(HttpStatusCode.Conflict, move.StatusCode);

        using var unknown = await client.PostAsync(new Uri($"/v1/emails/{Guid.NewGuid()}/cancel", UriKind.Relative), null);
        await ProblemAssert.IsDetailedProblemAsync(unknown, HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task CanceledEmailNeverLeavesAndRescheduledEmailShowsItsNewTime()
    {
        await using var relay = await ScriptedSmtpServer.StartAsync();
        await using var platform = await DistributedPlatform.StartAsync("127.0.0.1", relay.Port);
        using var client = platform.CreateClient();
        var soon = DateTimeOffset.UtcNow.AddSeconds(90);
        var canceledId = await EmailApi.SendAsync(client, Email("Canceled", soon));
        var movedId = await EmailApi.SendAsync(client, Email("Moved", DateTimeOffset.UtcNow.AddHours(1)));

        // The client has seen it scheduled before it cancels. (Canceling within milliseconds of the accept can
        // reach the status service before the accept does; see the report on StatusRecorder.)
        await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => EmailApi.GetAsync(client, canceledId), e => e?["status"]?.GetValue<string>() == "scheduled", Bounded, "the email to show as scheduled"));

        // As Resend's SDK sends it: POST with no body at all.
        using var cancel = await client.PostAsync(new Uri($"/v1/emails/{canceledId}/cancel", UriKind.Relative), null);
        var cancelBody = await cancel.Content.ReadAsStringAsync();
        Assert.True(cancel.StatusCode == HttpStatusCode.OK, $"{(int)cancel.StatusCode}: {cancelBody}");
        var reference = JsonNode.Parse(cancelBody)!;
        Assert.Equal("email", reference["object"]!.GetValue<string>());
        Assert.Equal(canceledId, reference["id"]!.GetValue<string>());

        var newTime = DateTimeOffset.UtcNow.AddSeconds(30);
        using var patch = await client.PatchAsJsonAsync($"/v1/emails/{movedId}", new { scheduled_at = newTime.ToString("O") });
        var patchBody = await patch.Content.ReadAsStringAsync();
        Assert.True(patch.StatusCode == HttpStatusCode.OK, $"{(int)patch.StatusCode}: {patchBody}");
        Assert.Equal(movedId, JsonNode.Parse(patchBody)!["id"]!.GetValue<string>());

        var canceled = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, canceledId, Bounded));
        Assert.True(canceled!["status"]!.GetValue<string>() == "canceled", platform.Logs);
        Assert.Equal("canceled", canceled["last_event"]!.GetValue<string>());

        var moved = await platform.WithLogsAsync(() => Eventually.GetAsync(
            () => EmailApi.GetAsync(client, movedId),
            e => e?["scheduled_at"] is { } s && Math.Abs((DateTimeOffset.Parse(s.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture) - newTime).TotalMilliseconds) < 1,
            Bounded,
            $"email {movedId} to show its new time"));
        Assert.Equal("scheduled", moved!["status"]!.GetValue<string>());

        // The moved email now leaves at its new time; the canceled one never does.
        var delivered = await platform.WithLogsAsync(() => EmailApi.WaitForFinalStateAsync(client, movedId, Bounded));
        Assert.True(delivered!["status"]!.GetValue<string>() == "delivered", platform.Logs);
        while (DateTimeOffset.UtcNow < soon + TimeSpan.FromSeconds(2))
        {
            await Task.Delay(200);
        }

        var received = Assert.Single(relay.Received);
        Assert.Contains("Subject: Moved", System.Text.Encoding.UTF8.GetString(received.Raw), StringComparison.Ordinal);
        // Dated the time it was moved to, not the hour it was first scheduled for nor its acceptance.
        Assert.Equal(ToTheSecond(newTime), DateOf(received));

        using var again = await client.PostAsync(new Uri($"/v1/emails/{canceledId}/cancel", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    private static DateTimeOffset DateOf(ReceivedMessage received)
    {
        using var message = MimeMessage.Load(new MemoryStream(received.Raw));
        return message.Date;
    }

    private static DateTimeOffset ToTheSecond(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    private static object Email(string subject, DateTimeOffset at) => new
    {
        from = "reminders@acme.test",
        to = "alice@example.test",
        subject,
        text = "A scheduled hello.",
        scheduled_at = at.ToString("O"),
    };
}
