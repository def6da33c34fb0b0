# Reference values for scoring.survey from R's survey + mitools (Debian: r-cran-survey, r-cran-mitools).
#
#   cd tests/data/survey && Rscript make_reference.R
#
# Writes students.csv (the synthetic sample: 24 schools in 12 jackknife zones and 6 JKn strata,
# final weights, gender, urban, 5 plausible values), replicate_weights_<design>.csv (the replicate
# weights R used) and reference.csv (design, statistic, estimate, total variance, mean sampling
# variance U, Rubin's df). Every design has mse = TRUE (deviations about the full-sample estimate).
#
# Designs:
#   jk2_full  IEA JK2, two replicates per zone (half 1 doubled / half 0 zeroed, then the reverse), scale 0.5
#   jk2_half  IEA JK2, one replicate per zone (half 1 doubled, half 0 zeroed), scale 1
#   jkn       delete-one-school jackknife within strata, built by R itself (as.svrepdesign, type "JKn")
#   fay       Fay's BRR, k = 0.5, Sylvester Hadamard of order 16, column h + 1 for zone h:
#             half 0 gets 2 - k where the sign is +1, half 1 gets k (and the reverse), scale 1 / (R (1 - k)^2)
# Statistics, each computed per PV (withPV) and combined by MIcombine:
#   mean       svymean(~pv)
#   share      svymean(~I(pv >= 0.3)) as a 0/1 variable
#   median     svyquantile(~pv, 0.5, qrule = "math", interval.type = "quantile"): the quantile under the
#              full and under each replicate's weights, replicate variance (its se squared)
#   p25        the same at 0.25
#   gap        mean of girls minus mean of boys: svyby(covmat = TRUE) + svycontrast
#   beta_girl  coefficient of girl in svyglm(pv ~ girl + urban)
#   beta_urban coefficient of urban in the same model
suppressMessages({
  library(survey)
  library(mitools)
})
options(survey.replicates.mse = TRUE)

set.seed(20240613)
n_schools <- 24
size <- sample(6:14, n_schools, replace = TRUE)
school <- rep(seq_len(n_schools) - 1, size)
n <- length(school)
zone <- school %/% 2
half <- school %% 2
stratum <- school %/% 4
urban <- as.integer((school %% 3) == 0)
girl <- rbinom(n, 1, 0.5)
school_effect <- rnorm(n_schools, 0, 0.5)[school + 1]
theta <- school_effect + 0.25 * girl + 0.3 * urban + rnorm(n)
w <- round(runif(n_schools, 20, 60)[school + 1] * runif(n, 0.8, 1.25), 4)
dat <- data.frame(school = school, zone = zone, half = half, stratum = stratum, weight = w,
                  girl = girl, urban = urban)
for (m in 1:5) dat[[paste0("pv", m)]] <- round(theta + rnorm(n, 0, 0.45), 6)
write.csv(dat, "students.csv", row.names = FALSE)

fmt <- function(x) sprintf("%.17g", x)

jk2_weights <- function(full) {
  cols <- list()
  for (z in sort(unique(zone))) {
    f1 <- ifelse(zone == z, ifelse(half == 1, 2, 0), 1)
    cols[[length(cols) + 1]] <- w * f1
    if (full) {
      f0 <- ifelse(zone == z, ifelse(half == 0, 2, 0), 1)
      cols[[length(cols) + 1]] <- w * f0
    }
  }
  do.call(cbind, cols)
}
sylvester <- function(order) {
  h <- matrix(1, 1, 1)
  while (nrow(h) < order) h <- rbind(cbind(h, h), cbind(h, -h))
  h
}
fay_weights <- function(k) {
  h <- sylvester(16)
  sign <- h[, zone + 2, drop = FALSE]  # replicate x student: column zone + 1 (0-based) of H
  first <- matrix(half == 0, nrow = nrow(h), ncol = n, byrow = TRUE)
  f <- ifelse((sign > 0) == first, 2 - k, k)
  t(f) * w
}

designs <- list()
designs$jk2_full <- svrepdesign(data = dat, weights = ~weight, repweights = jk2_weights(TRUE),
                                type = "other", scale = 0.5, rscales = 1, mse = TRUE)
designs$jk2_half <- svrepdesign(data = dat, weights = ~weight, repweights = jk2_weights(FALSE),
                                type = "other", scale = 1, rscales = 1, mse = TRUE)
designs$jkn <- as.svrepdesign(svydesign(ids = ~school, strata = ~stratum, weights = ~weight, data = dat),
                              type = "JKn", mse = TRUE, compress = FALSE)
designs$fay <- svrepdesign(data = dat, weights = ~weight, repweights = fay_weights(0.5),
                           type = "Fay", rho = 0.5, mse = TRUE)

for (d in names(designs)) {
  rw <- weights(designs[[d]], "analysis")
  out <- as.data.frame(matrix(fmt(rw), nrow = nrow(rw)))
  write.csv(out, paste0("replicate_weights_", d, ".csv"), row.names = FALSE, quote = FALSE)
  rs <- data.frame(scale = fmt(designs[[d]]$scale), rscales = fmt(designs[[d]]$rscales))
  write.csv(rs, paste0("replicate_scales_", d, ".csv"), row.names = FALSE, quote = FALSE)
}

quantile_stat <- function(des, p) {
  # replicate variance of the quantile (repCI): the reported se is sqrt(svrVar(replicate quantiles))
  q <- suppressWarnings(suppressMessages(
    svyquantile(~pv, des, p, qrule = "math", interval.type = "quantile", ci = TRUE, se = TRUE)))
  list(est = q$pv[1, "quantile"], var = q$pv[1, 4]^2)
}
stat_fns <- list(
  mean = function(des) { r <- svymean(~pv, des); list(est = coef(r)[[1]], var = vcov(r)[1, 1]) },
  share = function(des) {
    des <- update(des, hit = as.numeric(pv >= 0.3))
    r <- svymean(~hit, des); list(est = coef(r)[[1]], var = vcov(r)[1, 1])
  },
  median = function(des) quantile_stat(des, 0.5),
  p25 = function(des) quantile_stat(des, 0.25),
  gap = function(des) {
    b <- svyby(~pv, ~girl, des, svymean, covmat = TRUE)
    r <- svycontrast(b, c(-1, 1)); list(est = coef(r)[[1]], var = vcov(r)[1, 1])
  },
  beta_girl = function(des) {
    r <- svyglm(pv ~ girl + urban, des); list(est = coef(r)[["girl"]], var = vcov(r)["girl", "girl"])
  },
  beta_urban = function(des) {
    r <- svyglm(pv ~ girl + urban, des); list(est = coef(r)[["urban"]], var = vcov(r)["urban", "urban"])
  }
)

rows <- list()
for (d in names(designs)) {
  for (s in names(stat_fns)) {
    per_pv <- lapply(1:5, function(m) {
      des <- update(designs[[d]], pv = dat[[paste0("pv", m)]])
      stat_fns[[s]](des)
    })
    res <- MIcombine(lapply(per_pv, function(x) x$est), lapply(per_pv, function(x) x$var))
    u <- mean(sapply(per_pv, function(x) x$var))
    rows[[length(rows) + 1]] <- data.frame(design = d, statistic = s, estimate = fmt(coef(res)[[1]]),
                                           variance = fmt(vcov(res)[1, 1]), sampling_variance = fmt(u),
                                           df = fmt(res$df[[1]]))
  }
}
write.csv(do.call(rbind, rows), "reference.csv", row.names = FALSE, quote = FALSE)
cat("R", R.version$major, R.version$minor, "survey", as.character(packageVersion("survey")),
    "mitools", as.character(packageVersion("mitools")), "\n", file = "versions.txt")
