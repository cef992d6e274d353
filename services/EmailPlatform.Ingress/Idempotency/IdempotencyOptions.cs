using System.ComponentModel.DataAnnotations;

namespace EmailPlatform.Ingress.Idempotency;

/// <summary>Configuration section <c>Ingress:Idempotency</c>.</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "Ingress:Idempotency";

    /// <summary>How long a key's answer is replayed.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00", ErrorMessage = "Ingress:Idempotency:Retention must be between 1 minute and 30 days.")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);
}
