using EmailPlatform.Contracts;
using EmailPlatform.Status.Complaints;
using MassTransit;

namespace EmailPlatform.Status.Tests.Support;

/// <summary>Events as the ingress and the delivery workers publish them, with a fresh event id each.</summary>
internal static class TestEvents
{
    public static readonly SmtpReply Ok = new(250, "2.0.0", "Ok: queued as 4F2A1");
    public static readonly SmtpReply UserUnknown = new(550, "5.1.1", "User unknown");
    public static readonly SmtpReply Greylisted = new(451, "4.7.1", "Greylisted, try again later");

    public static EmailAccepted Accepted(
        Guid emailId,
        IReadOnlyList<string> to,
        IReadOnlyList<string>? cc = null,
        IReadOnlyList<string>? bcc = null,
        IReadOnlyList<string>? replyTo = null,
        DateTimeOffset? scheduledAt = null) => new(
        EventId: NewId.NextGuid(),
        EmailId: emailId,
        MessageId: $"<{emailId:N}@emailplatform.test>",
        From: "Acme <noreply@acme.test>",
        To: to,
        Cc: cc ?? [],
        Bcc: bcc ?? [],
        ReplyTo: replyTo ?? [],
        Subject: "Your receipt",
        Html: "<p>Thanks for your order.</p>",
        Text: "Thanks for your order.",
        AttachmentNames: ["receipt.pdf"],
        Tags: [new EmailTag("category", "receipt")],
        Metadata: new Dictionary<string, string> { ["order_id"] = "A-1001" },
        Priority: EmailPriority.High,
        AcceptedAt: DateTimeOffset.UtcNow.AddSeconds(-5),
        ScheduledAt: scheduledAt,
        Timestamp: DateTimeOffset.UtcNow.AddSeconds(-4));

    public static EmailQueued Queued(Guid emailId) => new(NewId.NextGuid(), emailId, DateTimeOffset.UtcNow.AddSeconds(-3));

    public static EmailCanceled Canceled(Guid emailId) => new(NewId.NextGuid(), emailId, DateTimeOffset.UtcNow);

    public static EmailRescheduled Rescheduled(Guid emailId, DateTimeOffset at) => new(NewId.NextGuid(), emailId, at, DateTimeOffset.UtcNow);

    public static EmailDelivered Delivered(Guid emailId, string recipient, int attempt = 1, string relay = "relay-a") =>
        new(NewId.NextGuid(), emailId, recipient, relay, attempt, Ok, DateTimeOffset.UtcNow);

    public static EmailBounced Bounced(Guid emailId, string recipient, int attempt = 1, string relay = "relay-a") =>
        new(NewId.NextGuid(), emailId, recipient, relay, attempt, UserUnknown, DateTimeOffset.UtcNow);

    /// <summary>A complaint as <c>POST /v1/complaints</c> hands it to the recorder, from a feedback loop that named the recipient.</summary>
    public static ReportedComplaint Complained(Guid emailId, string recipient) =>
        new(NewId.NextGuid(), emailId, recipient, "abuse", "feedback.mail.example", "ExampleMail-FBL/1.0", DateTimeOffset.UtcNow);

    public static EmailDeferred Deferred(
        Guid emailId, string recipient, int attempt = 1, DateTimeOffset? nextAttemptAt = null, string relay = "relay-a") =>
        new(NewId.NextGuid(), emailId, recipient, relay, attempt, Greylisted, "greylisted by the recipient's server",
            nextAttemptAt, DateTimeOffset.UtcNow);
}
