using EmailPlatform.Contracts;

namespace EmailPlatform.LaneBench;

/// <summary>The benchmark's emails: one recipient, a plain-text body of the given size.</summary>
internal static class Emails
{
    public static SendEmail Create(EmailPriority priority, string to, int bodySize)
    {
        var id = Guid.CreateVersion7();
        return new SendEmail(
            id, $"{id:N}@lanebench.test", new Envelope("bounces@lanebench.test", [to]), "Bench <bench@lanebench.test>", [to], [], [],
            priority == EmailPriority.High ? "Reset your password" : "Our newsletter", null, new string('x', bodySize),
            new Dictionary<string, string>(), [], [], new Dictionary<string, string>(), priority, DateTimeOffset.UtcNow);
    }
}
