import t from 'tap'
import { campaignTest } from './simcampaign.js'

t.test('500 seeded runs (seeds 1501..2000), every fault class', async t => {
  campaignTest(t, 1501, 500)
})
